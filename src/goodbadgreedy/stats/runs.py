"""Run scores: the paper's unit of non-determinism.

Song et al. (2024), Sec. 2-3: a *run* evaluates every item once; with N sampled generations per
item, run r takes sample r of every item. A run's score is the mean item score of that run.
Greedy decoding has one run. Over the N sampled runs we report mean, standard deviation, min,
max and Δ = max − min (best run − worst run), as in the paper's Table 1.
"""

from __future__ import annotations

import polars as pl

from goodbadgreedy.errors import DataError

#: Delta degrees of freedom of the reported standard deviation over runs (sample std).
STD_DDOF = 1

_KEYS = ["model", "benchmark", "config"]


def run_scores(checks: pl.DataFrame) -> pl.DataFrame:
    """Score of every run.

    Args:
        checks: rows of ``tables.CHECK_SCHEMA`` (any number of models/benchmarks/configs).

    Returns:
        One row per (model, benchmark, config, run): ``run`` (= sample_idx), ``n_items``,
        ``score`` (mean item score in [0, 1]), sorted by the keys.

    Raises:
        DataError: a run lacks some items of its (model, benchmark, config), so runs would not
            be comparable (names the group and run).
    """
    per_run = (
        checks.group_by(_KEYS + ["sample_idx"])
        .agg(pl.len().alias("n_items"), pl.col("score").mean().alias("score"))
        .rename({"sample_idx": "run"})
        .sort(_KEYS + ["run"])
    )
    items = checks.group_by(_KEYS).agg(pl.col("item_id").n_unique().alias("_all"))
    bad = per_run.join(items, on=_KEYS).filter(pl.col("n_items") != pl.col("_all"))
    if bad.height:
        r = bad.row(0, named=True)
        raise DataError(
            f"run {r['run']} of {r['model']}/{r['benchmark']}/{r['config']} covers {r['n_items']} of "
            f"{r['_all']} items; every run must score every item"
        )
    return per_run


def summarize_runs(runs: pl.DataFrame) -> pl.DataFrame:
    """Summarize run scores per (model, benchmark, config).

    Returns:
        Columns ``n_runs``, ``mean``, ``std`` (ddof = :data:`STD_DDOF`; null for one run),
        ``min``, ``max``, ``delta`` (max − min), all scores in [0, 1].
    """
    return (
        runs.group_by(_KEYS)
        .agg(
            pl.len().alias("n_runs"),
            pl.col("n_items").first(),
            pl.col("score").mean().alias("mean"),
            pl.col("score").std(ddof=STD_DDOF).alias("std"),
            pl.col("score").min().alias("min"),
            pl.col("score").max().alias("max"),
        )
        .with_columns((pl.col("max") - pl.col("min")).alias("delta"))
        .sort(_KEYS)
    )
