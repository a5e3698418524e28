"""The response-length table (``lengths.csv``): generated tokens per config, and the difference to greedy."""

from __future__ import annotations

from typing import Any

import polars as pl

from goodbadgreedy.analysis.options import StatsOptions
from goodbadgreedy.analysis.score_matrix import GROUP_KEYS
from goodbadgreedy.stats.paired import paired_bootstrap

LENGTHS_COLUMNS = [
    "model", "benchmark", "config", "n_responses", "mean_tokens", "std_tokens", "median_tokens", "max_tokens",
    "frac_length_limit", "diff_vs_greedy", "diff_lo", "diff_hi", "diff_p_value",
]


def lengths_table(generations: pl.DataFrame, greedy: str, opts: StatsOptions) -> pl.DataFrame:
    """Response length in generated tokens per (model, benchmark, config), and vs greedy.

    ``mean/std (ddof=1)/median/max_tokens`` over all responses; ``frac_length_limit`` the share
    that stopped at ``max_new_tokens`` (``finish_reason == "length"``, null when the column is
    absent). For sampling configs, ``diff_vs_greedy`` = mean over items of (per-item mean sampled
    length − greedy length) with its paired bootstrap CI and sign-flip p-value (same items;
    Song et al. 2024 compare lengths of greedy and sampled outputs, Sec. 3.3).

    Args:
        generations: rows with at least ``model, benchmark, config, item_id, response_tokens``.
        greedy: the greedy config name.
        opts: bootstrap settings.

    Returns:
        :data:`LENGTHS_COLUMNS`.
    """
    has_finish = "finish_reason" in generations.columns
    agg = [
        pl.len().cast(pl.Int64).alias("n_responses"),
        pl.col("response_tokens").cast(pl.Float64).mean().alias("mean_tokens"),
        pl.col("response_tokens").cast(pl.Float64).std(ddof=1).alias("std_tokens"),
        pl.col("response_tokens").cast(pl.Float64).median().alias("median_tokens"),
        pl.col("response_tokens").cast(pl.Float64).max().alias("max_tokens"),
        (
            (pl.col("finish_reason") == "length").cast(pl.Float64).mean() if has_finish else pl.lit(None, pl.Float64)
        ).alias("frac_length_limit"),
    ]
    base = generations.group_by(GROUP_KEYS).agg(agg).sort(GROUP_KEYS)
    per_item = generations.group_by(GROUP_KEYS + ["item_id"]).agg(
        pl.col("response_tokens").cast(pl.Float64).mean().alias("t")
    )
    diffs = []
    for row in base.iter_rows(named=True):
        d: dict[str, Any] = {k: row[k] for k in GROUP_KEYS}
        d.update(diff_vs_greedy=None, diff_lo=None, diff_hi=None, diff_p_value=None)
        if row["config"] != greedy:
            a = per_item.filter(
                (pl.col("model") == row["model"])
                & (pl.col("benchmark") == row["benchmark"])
                & (pl.col("config") == row["config"])
            )
            g = per_item.filter(
                (pl.col("model") == row["model"])
                & (pl.col("benchmark") == row["benchmark"])
                & (pl.col("config") == greedy)
            )
            j = a.join(g, on="item_id", suffix="_g").sort("item_id")
            if j.height >= 2:
                t = paired_bootstrap(
                    j["t"].to_numpy(),
                    j["t_g"].to_numpy(),
                    n_boot=opts.n_boot,
                    seed=opts.seed,
                    confidence=opts.confidence,
                )
                d.update(diff_vs_greedy=t.diff, diff_lo=t.lo, diff_hi=t.hi, diff_p_value=t.p_value)
        diffs.append(d)
    dschema = {
        **{k: pl.String for k in GROUP_KEYS},
        "diff_vs_greedy": pl.Float64,
        "diff_lo": pl.Float64,
        "diff_hi": pl.Float64,
        "diff_p_value": pl.Float64,
    }
    return (
        base.join(pl.DataFrame(diffs, schema=dschema), on=GROUP_KEYS, how="left")
        .select(LENGTHS_COLUMNS)
        .sort(GROUP_KEYS)
    )
