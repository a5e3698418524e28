"""Table 1 of Song et al. (2024): greedy vs sampling, per model and benchmark.

Layout (paper, Table 1): the greedy score; over the N sampled runs the mean, standard deviation,
min, max and Δ = best run − worst run; plus the mean response length in tokens (paper, Sec. 3.3).
Scores are percentages rounded to 2 decimals in ``table1.csv``; the full-precision run scores
are in ``runs.csv``.
"""

from __future__ import annotations

import polars as pl

from goodbadgreedy.stats.runs import STD_DDOF, run_scores, summarize_runs
from goodbadgreedy.tables import JUDGE_PARSE_FAILURE

TABLE1_COLUMNS = [
    "model", "benchmark", "n_items", "n_runs", "greedy", "sample_mean", "sample_std",
    "sample_min", "sample_max", "delta", "greedy_tokens", "sample_tokens", "judge_unparsed",
]


def response_lengths(generations: pl.DataFrame) -> pl.DataFrame:
    """Mean response length in tokens per (model, benchmark, config)."""
    return (
        generations.group_by(["model", "benchmark", "config"])
        .agg(pl.col("response_tokens").mean().alias("mean_tokens"))
        .sort(["model", "benchmark", "config"])
    )


def table1(checks: pl.DataFrame, generations: pl.DataFrame, greedy: str, sample: str) -> pl.DataFrame:
    """Build Table 1.

    Args:
        checks: check tables of all models x benchmarks x configs (``tables.CHECK_SCHEMA``).
        generations: the matching generation tables (for response lengths).
        greedy: the greedy config's name (see :func:`table1_configs`).
        sample: the sampling config's name, compared with it.

    Returns:
        One row per (model, benchmark) with :data:`TABLE1_COLUMNS`; scores in percent;
        ``judge_unparsed`` counts the rows of both configs whose judge output did not parse (they
        score 0, so a low score next to a high count says "the judge failed", not "the model did").
    """
    summary = summarize_runs(run_scores(checks))
    lengths = response_lengths(generations)
    keys = ["model", "benchmark"]
    g = summary.filter(pl.col("config") == greedy).select(keys + [pl.col("mean").alias("greedy")])
    s = summary.filter(pl.col("config") == sample).select(
        keys
        + [
            "n_items", "n_runs",
            pl.col("mean").alias("sample_mean"), pl.col("std").alias("sample_std"),
            pl.col("min").alias("sample_min"), pl.col("max").alias("sample_max"), "delta",
        ]
    )
    gl = lengths.filter(pl.col("config") == greedy).select(keys + [pl.col("mean_tokens").alias("greedy_tokens")])
    sl = lengths.filter(pl.col("config") == sample).select(keys + [pl.col("mean_tokens").alias("sample_tokens")])
    unparsed = (
        checks.filter(pl.col("config").is_in([greedy, sample]))
        .group_by(keys)
        .agg((pl.col("verdict") == JUDGE_PARSE_FAILURE).sum().cast(pl.Int64).alias("judge_unparsed"))
    )
    out = (
        s.join(g, on=keys, how="full", coalesce=True).join(gl, on=keys, how="left").join(sl, on=keys, how="left")
        .join(unparsed, on=keys, how="left").with_columns(pl.col("judge_unparsed").fill_null(0))
    )
    pct = ["greedy", "sample_mean", "sample_std", "sample_min", "sample_max", "delta"]
    return (
        out.with_columns(
            [(pl.col(c) * 100).round(2) for c in pct] + [pl.col(c).round(1) for c in ("greedy_tokens", "sample_tokens")]
        )
        .select(TABLE1_COLUMNS)
        .sort(keys)
    )


def to_markdown(table: pl.DataFrame, *, n_samples: int, profile: str) -> str:
    """Render Table 1 as a GitHub-flavoured markdown table with a caption."""
    head = [
        "Model", "Benchmark", "Items", "Greedy", "Sample mean", f"Std (ddof={STD_DDOF})",
        "Min", "Max", "Δ (max−min)", "Greedy len", "Sample len",
    ]
    cols = [c for c in TABLE1_COLUMNS if c not in ("n_runs", "judge_unparsed")]

    def fmt(v) -> str:
        if v is None:
            return "–"
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = [
        f"Table 1 (profile `{profile}`): scores in %, over {n_samples} sampled runs "
        "(run r = sample r of every item); lengths in generated tokens.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|",
    ]
    for row in table.select(cols).iter_rows():
        lines.append("| " + " | ".join(fmt(v) for v in row) + " |")
    failed = table.filter(pl.col("judge_unparsed") > 0) if "judge_unparsed" in table.columns else table.clear()
    if failed.height:
        lines += ["", "Judge outputs that did not parse (those rows score 0; see the check tables' `judge_output`):"]
        lines += [
            f"- {r['model']} / {r['benchmark']}: {r['judge_unparsed']} rows" for r in failed.iter_rows(named=True)
        ]
    return "\n".join(lines) + "\n"


def metrics(table: pl.DataFrame) -> dict:
    """Table 1 as nested DVC metrics: ``{model: {benchmark: {greedy, sample_mean, ...}}}``.

    DVC reads metrics from JSON/YAML/TOML only, so ``dvc metrics show/diff`` use this file.
    """
    out: dict = {}
    for row in table.iter_rows(named=True):
        out.setdefault(row["model"], {})[row["benchmark"]] = {
            k: row[k] for k in ("greedy", "sample_mean", "sample_std", "sample_min", "sample_max", "delta")
        }
    return out

