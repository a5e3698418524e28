"""The Best-of-N table: accuracy of the sample a scorer picks out of N, for N = 1, 2, 4, ..., n.

Song et al. 2024 (arXiv:2407.10457), Best-of-N experiments: score every sample with a reward
model, keep the highest-scoring of N samples, and report its accuracy as N grows, next to the
oracle (any of the N correct) and the greedy score. Here, for every (model, benchmark, sampling
config, scorer) and every N in :func:`n_grid`:

=============  ==============================================================================
estimator      value (percent)
=============  ==============================================================================
``unbiased``   :func:`~goodbadgreedy.stats.best_of_n.best_of_n_unbiased`: expectation over all
               size-N subsets of the n samples, reward ties picked uniformly at random
``first``      :func:`~goodbadgreedy.stats.best_of_n.best_of_n_first`: the paper's variant,
               first N samples, argmax, the earliest sample wins ties
``oracle``     :func:`~goodbadgreedy.stats.best_of_n.oracle_at_n` (unbiased; = pass@N)
``random``     :func:`~goodbadgreedy.stats.best_of_n.random_at_n` (unbiased; = mean accuracy)
``worst``      :func:`~goodbadgreedy.stats.best_of_n.worst_of_n` (unbiased)
=============  ==============================================================================

``oracle`` and ``random`` do not depend on the scorer; they are repeated under every scorer so
that each scorer's rows are complete. Values are percentages (like ``table1.csv``), at full
precision. Item-level correctness is the check table's ``score``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from goodbadgreedy.errors import DataError
from goodbadgreedy.tables import read_table

#: Columns of the Best-of-N table, in order.
BEST_OF_N_COLUMNS = ["model", "benchmark", "config", "scorer", "N", "estimator", "value"]
#: dtypes of the Best-of-N table's columns (as :func:`best_of_n_table` returns them).
BEST_OF_N_SCHEMA = {"model": pl.String, "benchmark": pl.String, "config": pl.String, "scorer": pl.String,
                    "N": pl.Int64, "estimator": pl.String, "value": pl.Float64}
#: Estimators, in the table's row order.
ESTIMATORS = ("unbiased", "first", "oracle", "random", "worst")
#: Columns of the greedy table (:func:`greedy_table`).
GREEDY_COLUMNS = ["model", "benchmark", "config", "value"]

_GROUP = ["model", "benchmark", "config", "scorer"]
_KEYS = ["model", "benchmark", "config", "item_id", "sample_idx"]


def n_grid(n: int) -> list[int]:
    """``[1, 2, 4, ..., 2^k]`` up to ``n``, plus ``n`` itself when it is not a power of two.

    Raises:
        ValueError: ``n < 1``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    out, N = [], 1
    while N <= n:
        out.append(N)
        N *= 2
    if out[-1] != n:
        out.append(n)
    return out


def reward_matrices(
    scores: pl.DataFrame, checks: pl.DataFrame
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rewards and correctness of one (model, benchmark, config, scorer) as item x sample arrays.

    Args:
        scores: one scorer's scores of one (model, benchmark, config) (``tables.SCORES_SCHEMA``).
        checks: the check table of the same (model, benchmark, config) (``tables.CHECK_SCHEMA``).

    Returns:
        ``(rewards, correct, item_ids)``: float arrays of shape ``(n_items, n_samples)``, rows in
        sorted item_id order, columns in sample_idx order; and the item ids.

    Raises:
        DataError: a scored sample has no check row or vice versa (first key named), or items
            have different numbers of samples (an item named).
    """
    s = scores.select(_KEYS + ["reward"])
    c = checks.select(_KEYS + ["score"])
    for name, a, b in (("scores", s, c), ("checks", c, s)):
        extra = a.join(b, on=_KEYS, how="anti")
        if extra.height:
            other = "checks" if name == "scores" else "scores"
            raise DataError(f"best_of_n: {extra.height} {name} row(s) have no {other} row; "
                            f"first: {dict(zip(_KEYS, extra.row(0), strict=False))}")
    joined = s.join(c, on=_KEYS, how="inner").sort(["item_id", "sample_idx"])
    counts = joined.group_by("item_id").len()
    if counts["len"].n_unique() != 1:
        lo = counts.sort("len").row(0)
        raise DataError(f"best_of_n: items have different numbers of samples "
                        f"({sorted(counts['len'].unique().to_list())}); e.g. item {lo[0]!r} has {lo[1]}")
    n = int(counts["len"][0])
    items = joined["item_id"].unique(maintain_order=True).to_list()
    rewards = joined["reward"].to_numpy().reshape(len(items), n)
    correct = joined["score"].to_numpy().reshape(len(items), n)
    return rewards, correct, items


def best_of_n_table(scores: pl.DataFrame, checks: pl.DataFrame, *, Ns: list[int] | None = None) -> pl.DataFrame:
    """Best-of-N, first-N, oracle, random and worst accuracy for every scorer and N.

    Args:
        scores: scores tables of any number of (model, benchmark, config, scorer), concatenated.
        checks: check tables covering every (model, benchmark, config) of ``scores`` (other
            configs, e.g. greedy, are ignored).
        Ns: the subset sizes; default :func:`n_grid` of each group's sample count.

    Returns:
        Columns :data:`BEST_OF_N_COLUMNS` (``N`` Int64, ``value`` Float64 in percent), sorted by
        model, benchmark, config, scorer, then N and estimator in :data:`ESTIMATORS` order.

    Raises:
        DataError: see :func:`reward_matrices`; also an empty ``scores``.
        ValueError: an ``N`` outside ``[1, n_samples]``.
    """
    # here, not at module level: the estimators import scipy, which the plot job (greedy_table,
    # read_best_of_n) does not need
    from goodbadgreedy.stats.best_of_n import best_of_n_first, best_of_n_unbiased, oracle_at_n, random_at_n, worst_of_n

    if scores.height == 0:
        raise DataError("best_of_n: no scores")
    rows = []
    groups = scores.select(_GROUP).unique().sort(_GROUP).rows()
    for model, bench, cfg, scorer in groups:
        s = scores.filter((pl.col("model") == model) & (pl.col("benchmark") == bench)
                          & (pl.col("config") == cfg) & (pl.col("scorer") == scorer))
        c = checks.filter((pl.col("model") == model) & (pl.col("benchmark") == bench)
                          & (pl.col("config") == cfg))
        r, y, _ = reward_matrices(s, c)
        for N in (Ns if Ns is not None else n_grid(r.shape[1])):
            values = {
                "unbiased": best_of_n_unbiased(r, y, N),
                "first": best_of_n_first(r, y, N),
                "oracle": oracle_at_n(y, N),
                "random": random_at_n(y, N),
                "worst": worst_of_n(r, y, N),
            }
            for est in ESTIMATORS:
                rows.append((model, bench, cfg, scorer, int(N), est, 100.0 * float(values[est])))
    return pl.DataFrame(rows, schema=BEST_OF_N_SCHEMA, orient="row")


def read_best_of_n(path) -> pl.DataFrame:
    """Read a ``best_of_n.csv`` written from :func:`best_of_n_table`, with its dtypes.

    Read through :func:`goodbadgreedy.tables.read_table` (a missing, unreadable or changed file is
    named, with how to rebuild it).

    Raises:
        DataError: the file cannot be read, has changed since the stage wrote it, or its columns
            are not :data:`BEST_OF_N_COLUMNS`.
    """
    df = read_table(path, schema_overrides=BEST_OF_N_SCHEMA)
    if df.columns != BEST_OF_N_COLUMNS:
        raise DataError(f"{path}: columns {df.columns}, expected {BEST_OF_N_COLUMNS}")
    return df


def greedy_table(checks: pl.DataFrame, greedy_configs: list[str]) -> pl.DataFrame:
    """Greedy accuracy (percent) per (model, benchmark, greedy config): mean check score.

    Args:
        checks: check tables (any configs).
        greedy_configs: the names of the greedy decoding configs (one sample per item).

    Returns:
        Columns :data:`GREEDY_COLUMNS`, sorted; empty when no greedy config is present.
    """
    return (
        checks.filter(pl.col("config").is_in(greedy_configs))
        .group_by(["model", "benchmark", "config"])
        .agg((pl.col("score").mean() * 100.0).alias("value"))
        .sort(["model", "benchmark", "config"])
        .select(GREEDY_COLUMNS)
    )
