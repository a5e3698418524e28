"""The intervals table (``intervals.csv``): mean score, its spread over runs and three intervals."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import polars as pl

from goodbadgreedy.analysis.options import StatsOptions
from goodbadgreedy.analysis.score_matrix import ScoreMatrix
from goodbadgreedy.stats.intervals import cluster_bootstrap, clustered_se, wilson_interval
from goodbadgreedy.stats.runs import STD_DDOF

INTERVALS_COLUMNS = [
    "model", "benchmark", "config", "n_items", "n_samples", "mean", "run_std", "std_ddof", "run_min", "run_max",
    "boot_lo", "boot_hi", "boot_se", "clustered_se", "clt_lo", "clt_hi", "naive_se", "wilson_lo", "wilson_hi",
    "interval", "lo", "hi", "confidence",
]


def intervals_table(matrices: Mapping[tuple[str, str, str], ScoreMatrix], opts: StatsOptions) -> pl.DataFrame:
    """Mean score with its spread over runs and three intervals, per (model, benchmark, config).

    * ``run_std`` (ddof ``std_ddof`` = 1), ``run_min``, ``run_max``: over the K run scores (Song et
      al. 2024, Table 1); null for one run.
    * ``boot_*``: item-cluster percentile bootstrap (all samples of an item resampled together;
      :func:`~goodbadgreedy.stats.intervals.cluster_bootstrap`, seeded with ``opts.seed``).
    * ``clustered_se``, ``clt_lo/hi``, ``naive_se``: Miller 2024, arXiv:2411.00640, Sec. 2
      (:func:`~goodbadgreedy.stats.intervals.clustered_se`).
    * ``wilson_*``: Wilson score interval (Wilson 1927) of ``successes / n_items``, only for
      single-sample (greedy) configs with 0/1 scores; null otherwise.
    * ``interval``, ``lo``, ``hi``: the interval the report and plots use: ``wilson`` when
      available and ``n_items <= opts.wilson_max_items``, else ``cluster_bootstrap``.

    Groups with a single item get null intervals (nothing to resample).

    Returns:
        :data:`INTERVALS_COLUMNS`; scores as fractions in [0, 1].
    """
    rows = []
    for m in matrices.values():
        x = m.scores
        runs = x.mean(axis=0)
        row: dict[str, Any] = {
            "model": m.model, "benchmark": m.benchmark, "config": m.config, "n_items": m.n_items,
            "n_samples": m.n_samples, "mean": float(x.mean()),
            "run_std": float(np.std(runs, ddof=STD_DDOF)) if m.n_samples > STD_DDOF else None,
            "std_ddof": STD_DDOF, "run_min": float(runs.min()), "run_max": float(runs.max()),
            "confidence": opts.confidence,
        }
        for col in (
            "boot_lo",
            "boot_hi",
            "boot_se",
            "clustered_se",
            "clt_lo",
            "clt_hi",
            "naive_se",
            "wilson_lo",
            "wilson_hi",
        ):
            row[col] = None
        if m.n_items >= 2:
            b = cluster_bootstrap(x, n_boot=opts.n_boot, seed=opts.seed, confidence=opts.confidence)
            s = clustered_se(x, confidence=opts.confidence)
            row.update(
                boot_lo=b.lo,
                boot_hi=b.hi,
                boot_se=b.se,
                clustered_se=s.se,
                clt_lo=s.lo,
                clt_hi=s.hi,
                naive_se=s.naive_se,
            )
        binary = bool(np.all((x == 0.0) | (x == 1.0)))
        if m.n_samples == 1 and binary:
            lo, hi = wilson_interval(int(x.sum()), m.n_items, opts.confidence)
            row.update(wilson_lo=lo, wilson_hi=hi)
        if row["wilson_lo"] is not None and m.n_items <= opts.wilson_max_items:
            row.update(interval="wilson", lo=row["wilson_lo"], hi=row["wilson_hi"])
        else:
            row.update(
                interval="cluster_bootstrap" if row["boot_lo"] is not None else "none",
                lo=row["boot_lo"],
                hi=row["boot_hi"],
            )
        rows.append(row)
    schema = {c: pl.Float64 for c in INTERVALS_COLUMNS}
    schema.update(model=pl.String, benchmark=pl.String, config=pl.String, interval=pl.String,
                  n_items=pl.Int64, n_samples=pl.Int64, std_ddof=pl.Int64)
    return pl.DataFrame(rows, schema=schema).select(INTERVALS_COLUMNS)
