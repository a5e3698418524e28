"""The pass@k family table (``passk.csv``): pass@k, pass^k, G-Pass@k, mG-Pass@k and maj@k."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl

from goodbadgreedy import benchmarks
from goodbadgreedy.analysis.score_matrix import ScoreMatrix
from goodbadgreedy.stats.estimators import (
    g_pass_at_k,
    maj_at_k,
    mg_pass_at_k,
    pass_at_k,
    pass_hat_k,
)

PASSK_COLUMNS = ["model", "benchmark", "config", "metric", "k", "tau", "value", "n_items", "n_samples", "note"]


def _maj_applicable(m: ScoreMatrix) -> str | None:
    """None when maj@k can be computed, else the reason it is skipped.

    maj@k compares the majority ``extracted`` answer with the gold string. The benchmark's spec
    says whether ``extracted`` is the model's answer (``BenchmarkSpec.extracts_answers``): where
    it is a judge's verdict (a preference label, AlpacaEval, Arena-Hard) no gold string matches,
    so there is no maj@k rather than a 0. Where it depends on the options (MixEval: an answer on
    the multiple-choice split only, a correctness score on free-form), which this table does not
    carry, the answers count only when every gold is an option letter (multiple choice only).
    """
    if all(a is None for row in m.answers for a in row):
        return "maj@k skipped: the check table has no extracted answers"
    if any(g == "" for g in m.gold):
        return "maj@k skipped: no gold answer string (the benchmark's tests decide correctness)"
    spec = benchmarks.SPECS.get(m.benchmark)
    extracts = True if spec is None else spec.extracts_answers
    if callable(extracts):
        extracts = all(len(g) == 1 and g.isalpha() for g in m.gold)
    if not extracts:
        return ("maj@k skipped: the judge's extracted label is a score or preference, not an answer "
                "to compare with the gold (only multiple-choice option extraction is)")
    return None


def _row(base: Mapping[str, Any], metric: str, k: int, value: float, tau: float | None = None,
         note: str = "") -> dict[str, Any]:
    """One row of the pass@k table: the group's ``base`` columns and one metric at one k."""
    return {**base, "metric": metric, "k": k, "tau": tau, "value": float(value), "note": note}


def passk_table(matrices: Mapping[tuple[str, str, str], ScoreMatrix], taus: Sequence[float]) -> pl.DataFrame:
    """pass@k, pass^k, G-Pass@k_tau, mG-Pass@k and maj@k for every ``k = 1..K``, averaged over items.

    * ``pass@k``: unbiased estimator of Chen et al. 2021, arXiv:2107.03374, Sec. 2.1.
    * ``pass^k``: all ``k`` correct (Yao et al. 2024, tau-bench, arXiv:2406.12045, Sec. 5).
    * ``g_pass@k`` (one row per ``tau``) and ``mg_pass@k``: Liu et al. 2024, arXiv:2412.13147.
    * ``maj@k``: unbiased majority vote over exact extracted-answer strings (ties split
      uniformly; Wang et al. 2023, arXiv:2203.11171). Skipped, with a ``note`` row
      (``value`` null), when answers are missing or the benchmark has no gold string (HumanEval).

    Args:
        matrices: output of :func:`~goodbadgreedy.analysis.score_matrix.score_matrices`.
        taus: G-Pass@k thresholds in [0, 1].

    Returns:
        Long table with :data:`PASSK_COLUMNS`; ``value`` a fraction in [0, 1]; ``tau`` null except
        for ``g_pass@k``.
    """
    rows: list[dict[str, Any]] = []
    for m in matrices.values():
        n, K = m.n_items, m.n_samples
        c = m.correct.sum(axis=1).astype(np.int64)
        base = {"model": m.model, "benchmark": m.benchmark, "config": m.config, "n_items": n, "n_samples": K}
        maj_note = _maj_applicable(m)
        for k in range(1, K + 1):
            rows.append(_row(base, "pass@k", k, np.mean(pass_at_k(K, c, k))))
            rows.append(_row(base, "pass^k", k, np.mean(pass_hat_k(K, c, k))))
            for tau in taus:
                rows.append(_row(base, "g_pass@k", k, np.mean(g_pass_at_k(K, c, k, tau)), tau=float(tau)))
            rows.append(_row(base, "mg_pass@k", k, np.mean(mg_pass_at_k(K, c, k))))
            if maj_note is None:
                rows.append(_row(base, "maj@k", k, maj_at_k(m.answers, m.gold, k), note="unbiased, ties split"))
        if maj_note is not None:
            rows.append({**base, "metric": "maj@k", "k": None, "tau": None, "value": None, "note": maj_note})
    schema = {
        "model": pl.String,
        "benchmark": pl.String,
        "config": pl.String,
        "metric": pl.String,
        "k": pl.Int64,
        "tau": pl.Float64,
        "value": pl.Float64,
        "n_items": pl.Int64,
        "n_samples": pl.Int64,
        "note": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).select(PASSK_COLUMNS)
