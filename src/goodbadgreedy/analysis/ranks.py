"""The rank tables: greedy vs sampling ranks and the pairwise orderings that flip.

Each model's rank under greedy vs the sampling mean (``ranks.csv``), and pairwise orderings that
flip between the two, with P(A beats B on a random run) (``rank_flips.csv``).
"""

from __future__ import annotations

from itertools import combinations
from typing import Mapping, Sequence

import numpy as np
import polars as pl

from goodbadgreedy.analysis.score_matrix import ScoreMatrix

RANKS_COLUMNS = [
    "benchmark",
    "sample_config",
    "model",
    "greedy",
    "sample_mean",
    "rank_greedy",
    "rank_sample",
    "rank_change",
]
RANK_FLIPS_COLUMNS = [
    "benchmark", "sample_config", "model_a", "model_b", "greedy_a", "greedy_b", "mean_a", "mean_b",
    "greedy_order", "sample_order", "flip", "p_a_beats_b",
]


def _order(x: float, y: float) -> str:
    return "a>b" if x > y else ("a<b" if x < y else "a=b")


def _ranks(values: Mapping[str, float]) -> dict[str, float]:
    """Competition-style average ranks, 1 = best (ties share the mean rank)."""
    from scipy.stats import rankdata

    names = sorted(values)
    r = rankdata([-values[n] for n in names], method="average")
    return {n: float(v) for n, v in zip(names, r, strict=True)}


def _comparable(matrices: Mapping[tuple[str, str, str], ScoreMatrix], greedy: str, samples: Sequence[str]):
    """Yield (benchmark, sampling config, models having both it and the greedy config), sorted."""
    models = sorted({k[0] for k in matrices})
    for bench in sorted({k[1] for k in matrices}):
        for cfg in samples:
            yield bench, cfg, [m for m in models if (m, bench, greedy) in matrices and (m, bench, cfg) in matrices]


def ranks_table(
    matrices: Mapping[tuple[str, str, str], ScoreMatrix], greedy: str, samples: Sequence[str]
) -> pl.DataFrame:
    """Each model's rank per benchmark under greedy and under the sampling mean (1 = best).

    Ties get the average rank. One table per sampling config in ``samples``; only models that
    have both the greedy and that sampling config are ranked.

    Returns:
        :data:`RANKS_COLUMNS` (``rank_change = rank_sample - rank_greedy``).
    """
    rows = []
    for bench, cfg, have in _comparable(matrices, greedy, samples):
        if have:
            g = {m: float(matrices[(m, bench, greedy)].scores.mean()) for m in have}
            s = {m: float(matrices[(m, bench, cfg)].scores.mean()) for m in have}
            rg, rs = _ranks(g), _ranks(s)
            for m in have:
                rows.append({"benchmark": bench, "sample_config": cfg, "model": m, "greedy": g[m], "sample_mean": s[m],
                             "rank_greedy": rg[m], "rank_sample": rs[m], "rank_change": rs[m] - rg[m]})
    schema = {c: pl.Float64 for c in RANKS_COLUMNS}
    schema.update(benchmark=pl.String, sample_config=pl.String, model=pl.String)
    return pl.DataFrame(rows, schema=schema).select(RANKS_COLUMNS)


def p_beats(runs_a: np.ndarray, runs_b: np.ndarray) -> float:
    """Probability that a random run of A scores higher than a random run of B (ties count 1/2).

    ``P = mean over all (r, s) of [R_a,r > R_b,s] + 0.5 [R_a,r = R_b,s]``: the runs of the two
    models are independent draws, so every pair of runs is an equally likely outcome (the
    Mann-Whitney / common-language effect size, McGraw & Wong 1992, Psychol. Bull. 111:361).

    Args:
        runs_a: run scores of A, shape ``(K_a,)``.
        runs_b: run scores of B, shape ``(K_b,)``.

    Returns:
        Probability in [0, 1].

    Raises:
        ValueError: an empty array.
    """
    a, b = np.asarray(runs_a, dtype=float), np.asarray(runs_b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("runs_a and runs_b must be non-empty")
    gt = (a[:, None] > b[None, :]).mean()
    eq = (a[:, None] == b[None, :]).mean()
    return float(gt + 0.5 * eq)


def rank_flips_table(
    matrices: Mapping[tuple[str, str, str], ScoreMatrix], greedy: str, samples: Sequence[str]
) -> pl.DataFrame:
    """Pairwise model orderings under greedy vs sampling mean, and P(A beats B on a random run).

    For every benchmark, sampling config and pair of models (a < b by name): their greedy scores
    and sampling means, the order under each (``a>b``, ``a<b``, ``a=b``), ``flip`` when the two
    orders differ, and ``p_a_beats_b`` from :func:`p_beats` on the K run scores of each. Empty
    (header only) with fewer than two models.

    Returns:
        :data:`RANK_FLIPS_COLUMNS`.
    """
    rows = []
    for bench, cfg, have in _comparable(matrices, greedy, samples):
        for ma, mb in combinations(have, 2):
            ga, gb = (float(matrices[(m, bench, greedy)].scores.mean()) for m in (ma, mb))
            sa, sb = (matrices[(m, bench, cfg)].scores for m in (ma, mb))
            go, so = _order(ga, gb), _order(float(sa.mean()), float(sb.mean()))
            rows.append({"benchmark": bench, "sample_config": cfg, "model_a": ma, "model_b": mb, "greedy_a": ga,
                         "greedy_b": gb, "mean_a": float(sa.mean()), "mean_b": float(sb.mean()),
                         "greedy_order": go, "sample_order": so, "flip": go != so,
                         "p_a_beats_b": p_beats(sa.mean(axis=0), sb.mean(axis=0))})
    schema = {c: pl.Float64 for c in RANK_FLIPS_COLUMNS}
    schema.update(
        {c: pl.String for c in ("benchmark", "sample_config", "model_a", "model_b", "greedy_order", "sample_order")}
    )
    schema["flip"] = pl.Boolean
    return pl.DataFrame(rows, schema=schema).select(RANK_FLIPS_COLUMNS)
