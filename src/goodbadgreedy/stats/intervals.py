"""Confidence intervals: Wilson score interval, item-cluster bootstrap, clustered standard error.

Pure functions (numpy/scipy, no I/O, no global state); randomness only through a
``numpy.random.Generator`` seeded from the ``seed`` argument. Bad input raises ``ValueError``
naming the argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.stats import norm

from goodbadgreedy.stats.estimators import _check_confidence, _check_counts, _check_int, _check_matrix

__all__ = [
    "wilson_interval",
    "cluster_bootstrap",
    "clustered_se",
    "BootstrapResult",
    "ClusteredSE",
]

#: Bootstrap index matrices are drawn in chunks of about this many entries (memory bound).
_CHUNK = 2_000_000


class BootstrapResult(NamedTuple):
    """Point estimate and percentile bootstrap interval (same units as the statistic)."""

    estimate: float  #: the statistic on the original data
    lo: float  #: lower percentile bound
    hi: float  #: upper percentile bound
    se: float  #: bootstrap standard error (std of the replicates, ddof=1)


class ClusteredSE(NamedTuple):
    """Mean score with its item-clustered standard error and CLT interval."""

    estimate: float  #: mean of the item means (= mean of all scores; the design is balanced)
    se: float  #: clustered standard error of ``estimate``
    lo: float  #: ``estimate - z * se``
    hi: float  #: ``estimate + z * se``
    naive_se: float  #: SE that wrongly treats all n_items * n_samples scores as independent
    n_items: int
    n_samples: int


def _z(confidence: float) -> float:
    return float(norm.ppf(0.5 + confidence / 2.0))


def wilson_interval(
    successes: object, n: object, confidence: float = 0.95
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion.

    With ``p = successes/n`` and ``z`` the ``(1+confidence)/2`` normal quantile::

        center = (p + z^2/(2n)) / (1 + z^2/n)
        half   = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/(4n^2))
        (lo, hi) = (center - half, center + half)

    It is the set of ``p0`` not rejected by the score test ``|p - p0| <= z sqrt(p0(1-p0)/n)``.
    Unlike the Wald interval it stays inside [0, 1] and behaves well near 0 and 1
    (e.g. 0/20 gives (0, 0.1611)).

    Source: Wilson 1927, "Probable inference, the law of succession, and statistical inference",
    JASA 22:209-212; formula as method 3 of Newcombe 1998, "Two-sided confidence intervals for
    the single proportion: comparison of seven methods", Stat. Med. 17:857-872 (Table I lists
    e.g. 81/263 -> (0.2553, 0.3662)); also Agresti & Coull 1998, Am. Stat. 52:119-126.

    Args:
        successes: number of successes; int or integer array, ``0 <= successes <= n``.
        n: number of trials; int or integer array broadcastable with ``successes``, ``n >= 1``.
        confidence: two-sided confidence level in (0, 1).

    Returns:
        ``(lo, hi)`` proportions in [0, 1]: floats for scalar input, else arrays of the broadcast
        shape.

    Raises:
        ValueError: non-integer counts, ``n < 1``, ``successes`` outside ``[0, n]``, or
            ``confidence`` outside (0, 1).
    """
    conf = _check_confidence(confidence)
    m, x = (a.astype(float) for a in _check_counts(n, successes, names=("n", "successes")))
    z = _z(conf)
    p = x / m
    denom = 1.0 + z * z / m
    center = (p + z * z / (2.0 * m)) / denom
    half = z / denom * np.sqrt(p * (1.0 - p) / m + z * z / (4.0 * m * m))
    lo = np.clip(center - half, 0.0, 1.0) + 0.0  # + 0.0 turns -0.0 into 0.0
    hi = np.clip(center + half, 0.0, 1.0) + 0.0
    # exact endpoints at the boundaries (the formula gives them up to rounding)
    lo = np.where(x == 0, 0.0, lo)
    hi = np.where(x == m, 1.0, hi)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def _bootstrap_indices(rng: np.random.Generator, n_items: int, n_boot: int):
    """Yield ``(start, idx)`` with ``idx`` of shape ``(rows, n_items)``; chunks bound memory."""
    rows = max(1, _CHUNK // n_items)
    for start in range(0, n_boot, rows):
        size = min(rows, n_boot - start)
        yield start, rng.integers(0, n_items, size=(size, n_items))


def _check_boot_args(n_boot: object, seed: object, confidence: object) -> tuple[int, int, float]:
    n_boot = _check_int(n_boot, "n_boot", minimum=2)
    seed = _check_int(seed, "seed", minimum=0)
    conf = _check_confidence(confidence)
    return n_boot, seed, conf


def _percentile_interval(boot: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    lo, hi = np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def cluster_bootstrap(
    scores: object,
    statistic: Callable[[np.ndarray], float] = np.mean,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Item-level (cluster) bootstrap: resample items with replacement, all their samples together.

    Each replicate draws ``n_items`` row indices uniformly with replacement, keeps every sample of
    each drawn item, and evaluates ``statistic`` on the resampled ``(n_items, n_samples)``
    matrix. The interval is the percentile interval of the ``n_boot`` replicates
    (``alpha/2`` and ``1-alpha/2`` quantiles, numpy's linear interpolation); ``se`` is their
    standard deviation (ddof=1). Resampling whole items keeps the within-item correlation of the
    samples, so the interval reflects both item sampling and decoding noise.

    Source: Efron & Tibshirani 1993, "An Introduction to the Bootstrap", Ch. 13 (percentile
    interval) and the cluster/block resampling of Davison & Hinkley 1997, "Bootstrap Methods and
    their Application", Sec. 3.8 (hierarchical data: resample the top-level units).

    Args:
        scores: per-(item, sample) scores, shape ``(n_items, n_samples)``, or ``(n_items,)`` for
            one score per item (treated as ``(n_items, 1)``, also by ``statistic``); finite
            floats (usually in [0, 1]); ``n_items >= 2``.
        statistic: maps a ``(n_items, n_samples)`` array to a scalar; default ``np.mean`` (the
            mean score; computed through item means for speed, with identical replicates).
        n_boot: number of bootstrap replicates, ``>= 2``.
        seed: non-negative int seeding ``numpy.random.default_rng``; same seed, same result.
        confidence: two-sided level in (0, 1).

    Returns:
        :class:`BootstrapResult` ``(estimate, lo, hi, se)`` in the statistic's units.

    Raises:
        ValueError: ``scores`` not a finite non-empty 1-D/2-D array or with fewer than 2 items,
            ``statistic`` not callable or not returning a finite scalar, or bad ``n_boot``,
            ``seed``, ``confidence``.
    """
    x = _check_matrix(scores, "scores", ndim=(1, 2))
    if x.ndim == 1:
        x = x[:, None]
    n_items = x.shape[0]
    if n_items < 2:
        raise ValueError(f"scores must have at least 2 items to bootstrap, got {n_items}")
    if not callable(statistic):
        raise ValueError(f"statistic must be callable, got {statistic!r}")
    n_boot, seed, conf = _check_boot_args(n_boot, seed, confidence)

    def stat(a: np.ndarray) -> float:
        value = np.asarray(statistic(a), dtype=float)
        if value.ndim != 0 or not np.isfinite(value):
            raise ValueError(f"statistic must return a finite scalar, got {value!r}")
        return float(value)

    estimate = stat(x)
    rng = np.random.default_rng(seed)
    boot = np.empty(n_boot)
    fast = statistic is np.mean
    item_means = x.mean(axis=1)
    for start, idx in _bootstrap_indices(rng, n_items, n_boot):
        if fast:
            boot[start : start + len(idx)] = item_means[idx].mean(axis=1)
        else:
            for r, row in enumerate(idx):
                boot[start + r] = stat(x[row])
    lo, hi = _percentile_interval(boot, conf)
    return BootstrapResult(estimate, lo, hi, float(np.std(boot, ddof=1)))


def clustered_se(scores: object, confidence: float = 0.95) -> ClusteredSE:
    """Standard error of the mean score when the samples are clustered within items.

    With ``K`` samples of each of ``n`` items, ``s_ij`` the score of sample ``j`` of item ``i``
    and ``sbar_i = (1/K) sum_j s_ij`` the item mean, the estimate is ``xbar = (1/n) sum_i sbar_i``
    and::

        SE = sqrt( sum_i (sbar_i - xbar)^2 / (n (n - 1)) )        # sd of item means / sqrt(n)
        CI = xbar -/+ z_{(1+confidence)/2} * SE                   # CLT interval

    The item means are independent across items (questions drawn from a super-population), so
    this is the ordinary CLT standard error applied to them. Their variance is
    ``Var(sbar_i) = Var(x_i) + E[sigma_i^2]/K`` (item difficulty plus decoding noise shrunk by
    ``K``), so SE already includes the within-item noise: no separate correction is needed.
    The cluster-robust sandwich form (all pairs of samples of the same item) gives the same value
    times ``sqrt((n-1)/n)``; the ``n - 1`` here is the usual small-sample choice.

    ``naive_se = sd(all n*K scores, ddof=1) / sqrt(n*K)`` treats every sample as an independent
    question; it understates the uncertainty whenever items differ in difficulty and is returned
    only for comparison.

    Source: Miller 2024, "Adding Error Bars to Evals: A Statistical Approach to Language Model
    Evaluations", arXiv:2411.00640, Sec. 2 (CLT standard error of the mean score; clustered
    standard errors) and Sec. 3 (resampling each question K times and averaging).

    Args:
        scores: per-(item, sample) scores, shape ``(n_items, n_samples)`` (balanced: the same
            ``K`` samples for every item), or ``(n_items,)`` for ``K = 1``; finite floats;
            ``n_items >= 2``.
        confidence: two-sided level in (0, 1) for the CLT interval.

    Returns:
        :class:`ClusteredSE` ``(estimate, se, lo, hi, naive_se, n_items, n_samples)``, in score
        units.

    Raises:
        ValueError: ``scores`` not a finite non-empty 1-D/2-D array, fewer than 2 items, or bad
            ``confidence``.
    """
    x = _check_matrix(scores, "scores", ndim=(1, 2))
    if x.ndim == 1:
        x = x[:, None]
    n_items, k = x.shape
    if n_items < 2:
        raise ValueError(f"scores must have at least 2 items, got {n_items}")
    conf = _check_confidence(confidence)
    item_means = x.mean(axis=1)
    estimate = float(item_means.mean())
    se = float(np.sqrt(np.var(item_means, ddof=1) / n_items))
    naive = float(np.sqrt(np.var(x, ddof=1) / x.size))
    z = _z(conf)
    return ClusteredSE(estimate, se, estimate - z * se, estimate + z * se, naive, n_items, k)
