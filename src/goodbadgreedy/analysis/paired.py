"""The paired-tests table (``paired.csv``): greedy vs sampling and model vs model on the same items."""

from __future__ import annotations

from itertools import combinations
from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl

from goodbadgreedy.analysis.options import StatsOptions
from goodbadgreedy.analysis.score_matrix import ScoreMatrix
from goodbadgreedy.stats.paired import mcnemar, paired_bootstrap

PAIRED_COLUMNS = [
    "comparison", "benchmark", "model_a", "config_a", "model_b", "config_b", "test", "detail", "n_items",
    "diff", "lo", "hi", "p_value", "statistic", "b10", "b01", "method",
]


def _common_items(a: ScoreMatrix, b: ScoreMatrix) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``a`` and ``b`` for the items both hold (sorted by item_id)."""
    common = sorted(set(a.item_ids) & set(b.item_ids))
    ia = {it: i for i, it in enumerate(a.item_ids)}
    ib = {it: i for i, it in enumerate(b.item_ids)}
    return a.scores[[ia[i] for i in common]], b.scores[[ib[i] for i in common]]


def _paired_rows(comparison: str, a: ScoreMatrix, b: ScoreMatrix, opts: StatsOptions) -> list[dict[str, Any]]:
    xa, xb = _common_items(a, b)
    base = {"comparison": comparison, "benchmark": a.benchmark, "model_a": a.model, "config_a": a.config,
            "model_b": b.model, "config_b": b.config, "n_items": xa.shape[0]}
    rows = []
    binary = bool(np.all(np.isin(xa, (0.0, 1.0))) and np.all(np.isin(xb, (0.0, 1.0))))
    if xa.shape[0] == 0:
        return rows
    if binary and xa.shape[1] == 1:
        # McNemar: a's single outcome vs each of b's runs (one binary outcome per item and run)
        for r in range(xb.shape[1]):
            t = mcnemar(xa[:, 0], xb[:, r], confidence=opts.confidence)
            detail = f"{a.config} vs run {r} of {b.config}" if xb.shape[1] > 1 else f"{a.config} vs {b.config}"
            rows.append(
                {
                    **base,
                    "test": "mcnemar",
                    "detail": detail,
                    "diff": t.diff,
                    "lo": t.lo,
                    "hi": t.hi,
                    "p_value": t.p_value,
                    "statistic": t.statistic,
                    "b10": t.b10,
                    "b01": t.b01,
                    "method": t.method,
                }
            )
    if xa.shape[0] >= 2 and (xa.shape[1] > 1 or xb.shape[1] > 1 or not binary):
        t = paired_bootstrap(xa, xb, n_boot=opts.n_boot, seed=opts.seed, confidence=opts.confidence)
        rows.append({**base, "test": "paired_bootstrap",
                     "detail": f"per-item mean score of {a.config} - per-item mean over samples of {b.config}",
                     "diff": t.diff, "lo": t.lo, "hi": t.hi, "p_value": t.p_value, "statistic": None,
                     "b10": None, "b01": None, "method": f"percentile CI, {t.p_method} p-value"})
    return rows


def paired_table(
    matrices: Mapping[tuple[str, str, str], ScoreMatrix], greedy: str, samples: Sequence[str], opts: StatsOptions
) -> pl.DataFrame:
    """Paired comparisons on the same items: greedy vs sampling, and model vs model.

    ``greedy_vs_sample`` (per model x benchmark x sampling config in ``samples``; a = greedy,
    b = sampling):

    * McNemar (:func:`~goodbadgreedy.stats.paired.mcnemar`) of greedy's 0/1 outcome against each
      sampled run's 0/1 outcome (run r = sample r of every item), one row per run: "does greedy
      beat a single sampled run?".
    * Paired bootstrap (:func:`~goodbadgreedy.stats.paired.paired_bootstrap`) of the per-item
      difference greedy − mean over the K samples: "does greedy beat sampling in expectation?";
      percentile CI and sign-flip p-value.

    ``model_vs_model`` (per benchmark and config, every pair of models a < b by name): McNemar for
    single-sample configs, paired bootstrap of the per-item mean score otherwise. Only items both
    models scored are compared (``n_items``).

    Every ``diff`` is a − b in score fractions; ``p_value`` two-sided.

    Returns:
        :data:`PAIRED_COLUMNS`.
    """
    rows: list[dict[str, Any]] = []
    models = sorted({k[0] for k in matrices})
    benchmarks = sorted({k[1] for k in matrices})
    for model in models:
        for bench in benchmarks:
            for sample in samples:
                a, b = matrices.get((model, bench, greedy)), matrices.get((model, bench, sample))
                if a is not None and b is not None:
                    rows.extend(_paired_rows("greedy_vs_sample", a, b, opts))
    configs = sorted({k[2] for k in matrices})
    for bench in benchmarks:
        for cfg in configs:
            for ma, mb in combinations(models, 2):
                a, b = matrices.get((ma, bench, cfg)), matrices.get((mb, bench, cfg))
                if a is not None and b is not None:
                    rows.extend(_paired_rows("model_vs_model", a, b, opts))
    schema = {c: pl.Float64 for c in PAIRED_COLUMNS}
    schema.update(
        {
            c: pl.String
            for c in (
                "comparison",
                "benchmark",
                "model_a",
                "config_a",
                "model_b",
                "config_b",
                "test",
                "detail",
                "method",
            )
        }
    )
    schema.update(n_items=pl.Int64, b10=pl.Int64, b01=pl.Int64)
    return pl.DataFrame(rows, schema=schema).select(PAIRED_COLUMNS)
