"""The variance table (``variance.csv``): item difficulty vs sampling noise."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import polars as pl

from goodbadgreedy.analysis.score_matrix import ScoreMatrix
from goodbadgreedy.stats.variance import decompose_variance

VARIANCE_COLUMNS = [
    "model", "benchmark", "config", "n_items", "n_samples", "grand_mean", "total_var", "within_var", "between_var",
    "within_fraction", "item_difficulty_var", "run_sd_implied", "run_sd_empirical", "score_sd_items",
]


def variance_table(matrices: Mapping[tuple[str, str, str], ScoreMatrix]) -> pl.DataFrame:
    """Item difficulty vs sampling noise, per sampled (model, benchmark, config).

    From :func:`~goodbadgreedy.stats.variance.decompose_variance` (law of total variance; Miller
    2024, arXiv:2411.00640, Sec. 2-3): ``within_var`` (sampling noise, mean per-item variance
    across samples), ``between_var`` (spread of item means), ``within_fraction``;
    ``run_sd_implied`` / ``run_sd_empirical`` (sd of a run score implied by sampling noise /
    observed over runs); ``score_sd_items = sqrt(item_difficulty_var / n_items)`` (sd from drawing
    the items). Configs with fewer than 2 samples or 2 items are left out.

    Returns:
        :data:`VARIANCE_COLUMNS`; variances in squared score fractions, sds in score fractions.
    """
    rows = []
    for m in matrices.values():
        if m.n_samples < 2 or m.n_items < 2:
            continue
        v = decompose_variance(m.scores)
        rows.append({
            "model": m.model, "benchmark": m.benchmark, "config": m.config, "n_items": v.n_items,
            "n_samples": v.n_samples, "grand_mean": v.grand_mean, "total_var": v.total_var,
            "within_var": v.within_var, "between_var": v.between_var,
            "within_fraction": None if np.isnan(v.within_fraction) else v.within_fraction,
            "item_difficulty_var": v.item_difficulty_var, "run_sd_implied": v.run_sd_implied,
            "run_sd_empirical": v.run_sd_empirical, "score_sd_items": float(np.sqrt(v.score_var_items)),
        })
    schema = {c: pl.Float64 for c in VARIANCE_COLUMNS}
    schema.update(model=pl.String, benchmark=pl.String, config=pl.String, n_items=pl.Int64, n_samples=pl.Int64)
    return pl.DataFrame(rows, schema=schema).select(VARIANCE_COLUMNS)
