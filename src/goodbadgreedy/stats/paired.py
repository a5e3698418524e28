"""Paired comparisons of two systems on the same items: McNemar's test and a paired bootstrap.

Pure functions (numpy/scipy, no I/O, no global state); bad input raises ``ValueError`` naming the
argument. "a" and "b" are the two systems; differences are always ``a - b``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.stats import binomtest, chi2, norm

from goodbadgreedy.stats.estimators import _check_confidence, _check_matrix
from goodbadgreedy.stats.intervals import (
    _bootstrap_indices,
    _check_boot_args,
    _percentile_interval,
)

__all__ = ["mcnemar", "paired_bootstrap", "McNemarResult", "PairedBootstrapResult"]

#: With fewer discordant pairs than this, ``mcnemar(exact=None)`` uses the exact binomial test.
EXACT_BELOW = 25

#: Relative slack when comparing resampled statistics with the observed one (float ties count).
_TIE_RTOL = 1e-9


class McNemarResult(NamedTuple):
    """McNemar test of ``a`` vs ``b`` on paired binary outcomes."""

    diff: float  #: mean(a) - mean(b) = (b10 - b01) / n
    lo: float  #: lower bound of the Wald CI of ``diff``
    hi: float  #: upper bound of the Wald CI of ``diff``
    p_value: float  #: two-sided p-value of H0: P(a=1, b=0) = P(a=0, b=1)
    statistic: float  #: McNemar chi-square (with continuity correction if requested)
    b10: int  #: items with a correct and b wrong
    b01: int  #: items with a wrong and b correct
    n: int  #: number of items
    method: str  #: "exact" (binomial), "chi2" or "chi2-cc" (continuity corrected)


class PairedBootstrapResult(NamedTuple):
    """Paired bootstrap over items of the per-item score difference ``a - b``."""

    diff: float  #: mean over items of (a_i - b_i)
    lo: float  #: percentile bootstrap lower bound
    hi: float  #: percentile bootstrap upper bound
    se: float  #: bootstrap standard error (ddof=1)
    p_value: float  #: two-sided Monte-Carlo p-value of H0: no difference (see ``p_method``)
    n_items: int
    p_method: str  #: "signflip" or "shift"


def _check_binary_vector(x: object, name: str) -> np.ndarray:
    return _check_matrix(x, name, ndim=(1,), binary=True).astype(bool)


def mcnemar(
    a: object,
    b: object,
    exact: bool | None = None,
    *,
    correction: bool = False,
    confidence: float = 0.95,
) -> McNemarResult:
    """McNemar's test for two systems' binary outcomes on the same items.

    Only discordant items carry information: ``b10`` (a right, b wrong) and ``b01`` (a wrong,
    b right). Under H0 (equal marginal accuracy), ``b10 ~ Binomial(b10 + b01, 1/2)``.

    * ``exact=True``: two-sided exact binomial test, ``scipy.stats.binomtest(b10, b10+b01, 0.5)``
      (for p = 1/2: twice the smaller tail, capped at 1).
    * ``exact=False``: ``chi2 = (b10 - b01)^2 / (b10 + b01)`` on 1 degree of freedom; with
      ``correction=True`` Edwards' continuity correction ``(|b10 - b01| - 1)^2 / (b10 + b01)``.
    * ``exact=None`` (default): exact when ``b10 + b01 < 25`` (``EXACT_BELOW``), else chi-square.

    The default chi-square has no continuity correction: the corrected test is conservative,
    and Fagerland, Lydersen & Laake 2013 (BMC Med. Res. Methodol. 13:91) recommend the
    uncorrected asymptotic test (or mid-p) over both the corrected and the exact conditional one;
    for small discordant counts we keep the exact test, which never exceeds its nominal size.
    With no discordant pairs, ``p_value = 1`` and ``statistic = 0``. ``statistic`` is always the
    chi-square value (as configured by ``correction``), whichever p-value is used.

    The CI of ``diff = mean(a) - mean(b) = (b10 - b01)/n`` is the Wald interval for a difference
    of dependent proportions, ``diff -/+ z * sqrt((b10 + b01) - (b10 - b01)^2 / n) / n``,
    clipped to [-1, 1] (it has zero width when there are no discordant pairs).

    Source: McNemar 1947, Psychometrika 12:153-157; Agresti 2002, "Categorical Data Analysis",
    2nd ed., Sec. 10.1 (McNemar z statistic and the Wald CI of the difference of dependent
    proportions; worked example of approval ratings in two surveys of the same 1600 people,
    794/150/86/570: z^2 = 17.36, 95% CI (-0.06, -0.02) for the second minus the first survey).
    Edwards 1948, Psychometrika 13:185-187, for the continuity correction.

    Args:
        a: per-item outcome of system a, shape ``(n_items,)``, bool or 0/1.
        b: per-item outcome of system b, same shape.
        exact: force the exact (True) or chi-square (False) p-value; None picks by count.
        correction: apply the continuity correction to the chi-square statistic.
        confidence: two-sided level of the CI, in (0, 1).

    Returns:
        :class:`McNemarResult` (``diff`` and CI are differences of proportions).

    Raises:
        ValueError: ``a``/``b`` not non-empty binary 1-D arrays of the same length, ``exact`` not
            None/bool, or bad ``confidence``.
    """
    x = _check_binary_vector(a, "a")
    y = _check_binary_vector(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a and b must have the same length, got {x.shape[0]} and {y.shape[0]}")
    if exact is not None and not isinstance(exact, (bool, np.bool_)):
        raise ValueError(f"exact must be None, True or False, got {exact!r}")
    conf = _check_confidence(confidence)
    n = int(x.size)
    b10 = int(np.sum(x & ~y))
    b01 = int(np.sum(~x & y))
    disc = b10 + b01
    use_exact = disc < EXACT_BELOW if exact is None else bool(exact)
    if disc == 0:
        stat = 0.0
    elif correction:
        stat = max(abs(b10 - b01) - 1, 0) ** 2 / disc
    else:
        stat = (b10 - b01) ** 2 / disc
    if disc == 0:
        p = 1.0
    elif use_exact:
        p = float(binomtest(b10, disc, 0.5).pvalue)
    else:
        p = float(chi2.sf(stat, 1))
    method = "exact" if use_exact else ("chi2-cc" if correction else "chi2")
    diff = (b10 - b01) / n
    se = np.sqrt(max(disc - (b10 - b01) ** 2 / n, 0.0)) / n
    z = float(norm.ppf(0.5 + conf / 2.0))
    lo = float(max(diff - z * se, -1.0))
    hi = float(min(diff + z * se, 1.0))
    return McNemarResult(float(diff), lo, hi, min(p, 1.0), float(stat), b10, b01, n, method)


def paired_bootstrap(
    a_scores: object,
    b_scores: object,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    p_method: str = "signflip",
) -> PairedBootstrapResult:
    """Paired bootstrap over items of the per-item difference of two systems' scores.

    Each item's score is its mean over samples (``(n_items,)`` input is used as is; the two
    systems may have different numbers of samples). With ``d_i = a_i - b_i``, ``diff = mean(d)``.
    The CI is the percentile interval of ``mean(d[idx])`` over ``n_boot`` resamples ``idx`` of
    the items with replacement (the pairing is kept: an item's a and b move together); ``se`` is
    the std (ddof=1) of those means.

    Two-sided p-value of H0 "no difference", ``B = n_boot`` Monte-Carlo draws, with the add-one
    rule ``p = (1 + #{|T*| >= |diff|}) / (B + 1)`` so that ``p > 0`` (Davison & Hinkley 1997,
    "Bootstrap Methods and their Application", Ch. 4; Phipson & Smyth 2010, "Permutation
    P-values should never be zero", Stat. Appl. Genet. Mol. Biol. 9:39):

    * ``p_method="signflip"`` (default): paired permutation (randomization) test;
      ``T* = mean(eps_i d_i)`` with independent random signs ``eps_i = +-1``. Under H0 that a and b
      are exchangeable within each item the sign of each ``d_i`` is arbitrary, so the test holds
      its size without large-sample arguments (the matched-pairs randomization test of
      Fisher 1935, "The Design of Experiments", Ch. III).
    * ``p_method="shift"``: the bootstrap distribution shifted to the null,
      ``T* = mean(d[idx]) - diff`` (Efron & Tibshirani 1993, "An Introduction to the Bootstrap",
      Ch. 16; the paired bootstrap of Berg-Kirkpatrick, Burkett & Klein 2012, EMNLP). It can be
      anti-conservative for few items.

    The bootstrap CI uses a generator seeded with ``SeedSequence(seed).spawn(2)[0]`` and the
    sign flips ``[1]``, so the CI does not depend on ``p_method`` and every result reproduces
    from ``seed``.

    Args:
        a_scores: system a, shape ``(n_items,)`` or ``(n_items, n_samples_a)``; finite floats.
        b_scores: system b, shape ``(n_items,)`` or ``(n_items, n_samples_b)``; same items in the
            same order.
        n_boot: number of bootstrap (and sign-flip) draws, ``>= 2``.
        seed: non-negative int.
        confidence: two-sided level in (0, 1).
        p_method: ``"signflip"`` or ``"shift"``.

    Returns:
        :class:`PairedBootstrapResult` ``(diff, lo, hi, se, p_value, n_items, p_method)`` in
        score units.

    Raises:
        ValueError: bad shapes (not 1-D/2-D, empty, different numbers of items, fewer than 2
            items), non-finite scores, bad ``n_boot``/``seed``/``confidence``, unknown
            ``p_method``.
    """
    xa = _check_matrix(a_scores, "a_scores", ndim=(1, 2))
    xb = _check_matrix(b_scores, "b_scores", ndim=(1, 2))
    if xa.shape[0] != xb.shape[0]:
        raise ValueError(
            f"a_scores and b_scores must have the same number of items, got {xa.shape[0]} and "
            f"{xb.shape[0]}"
        )
    if p_method not in ("signflip", "shift"):
        raise ValueError(f"p_method must be 'signflip' or 'shift', got {p_method!r}")
    n_boot, seed, conf = _check_boot_args(n_boot, seed, confidence)
    n_items = xa.shape[0]
    if n_items < 2:
        raise ValueError(f"a_scores must have at least 2 items to bootstrap, got {n_items}")
    d = (xa.mean(axis=1) if xa.ndim == 2 else xa) - (xb.mean(axis=1) if xb.ndim == 2 else xb)
    diff = float(d.mean())

    rng_boot, rng_perm = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    boot = np.empty(n_boot)
    for start, idx in _bootstrap_indices(rng_boot, n_items, n_boot):
        boot[start : start + len(idx)] = d[idx].mean(axis=1)
    lo, hi = _percentile_interval(boot, conf)
    se = float(np.std(boot, ddof=1))

    if p_method == "shift":
        null = boot - diff
    else:
        null = np.empty(n_boot)
        rows = max(1, 2_000_000 // n_items)
        for start in range(0, n_boot, rows):
            size = min(rows, n_boot - start)
            signs = rng_perm.integers(0, 2, size=(size, n_items)) * 2 - 1
            null[start : start + size] = (signs * d).mean(axis=1)
    threshold = abs(diff) * (1.0 - _TIE_RTOL) - 1e-15
    extreme = int(np.sum(np.abs(null) >= threshold))
    p = (1 + extreme) / (n_boot + 1)
    return PairedBootstrapResult(diff, lo, hi, se, float(min(p, 1.0)), n_items, p_method)
