"""Sampling estimators: pass@k, pass^k, G-Pass@k_tau, mG-Pass@k and maj@k.

Every function here is pure (numpy/scipy, no I/O, no global state). Bad input raises
``ValueError`` whose message names the offending argument.

Conventions
-----------
* ``n`` is the number of samples drawn for an item, ``c`` how many of them are correct, ``k`` the
  size of the (hypothetical) subset of samples a metric looks at. All are integer counts.
* The count-based functions (:func:`pass_at_k`, :func:`pass_hat_k`, :func:`g_pass_at_k`,
  :func:`mg_pass_at_k`) are *elementwise*: ``n`` and ``c`` broadcast against each other, one value
  per item comes back (a ``float`` for scalar input). Average them over items yourself, or use the
  ``*_curve`` helpers, which take the ``(n_items, n_samples)`` correctness matrix and return the
  mean over items.
* All "unbiased" estimators are the exact expectation, over all ``C(n, k)`` size-``k`` subsets of
  the ``n`` observed samples, of the metric computed on the subset; they are unbiased for the
  metric of ``k`` fresh i.i.d. samples (Chen et al. 2021, Sec. 2.1).

The private ``_check_*`` helpers are shared by the sibling modules of ``goodbadgreedy.stats``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.special import gammaln
from scipy.stats import hypergeom

__all__ = [
    "pass_at_k",
    "pass_at_k_curve",
    "pass_hat_k",
    "pass_hat_k_curve",
    "g_pass_at_k",
    "mg_pass_at_k",
    "maj_at_k",
]

# --------------------------------------------------------------------------------------------
# shared validation helpers (private; used by best_of_n, intervals, paired, variance)
# --------------------------------------------------------------------------------------------


def _check_int(value: object, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as ``int``; it must be an integer (not a bool) and ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_confidence(confidence: object) -> float:
    """Return ``confidence`` as float; it must lie strictly between 0 and 1."""
    try:
        conf = float(confidence)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}") from None
    if not 0.0 < conf < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return conf


def _check_matrix(
    x: object,
    name: str,
    *,
    ndim: tuple[int, ...] = (2,),
    binary: bool = False,
    unit: bool = False,
    allow_inf: bool = False,
) -> np.ndarray:
    """Return ``x`` as a float array after checking dimensionality and values.

    ``ndim`` lists the accepted numbers of dimensions; every axis must be non-empty. Values must be
    finite (``allow_inf`` lets +-inf through but never NaN); ``unit`` requires values in [0, 1],
    ``binary`` values in {0, 1} (bool arrays are accepted).
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} must be a numeric array: {exc}") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be a numeric or boolean array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    if arr.size == 0 or 0 in arr.shape:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    arr = arr.astype(float)
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN at index {tuple(np.argwhere(np.isnan(arr))[0])}")
    if not allow_inf and np.isinf(arr).any():
        raise ValueError(f"{name} contains inf at index {tuple(np.argwhere(np.isinf(arr))[0])}")
    if binary:
        bad = (arr != 0.0) & (arr != 1.0)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} must be binary (0/1 or bool); {name}{list(idx)} = {arr[idx]}")
    elif unit:
        bad = (arr < 0.0) | (arr > 1.0)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} must lie in [0, 1]; {name}{list(idx)} = {arr[idx]}")
    return arr


def _check_counts(n: object, c: object, names: tuple[str, str] = ("n", "c")) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast ``n`` and ``c`` to integer arrays with ``n >= 1`` and ``0 <= c <= n``.

    ``names`` are what the error messages call them (``wilson_interval`` says ``successes``).
    """
    n_name, c_name = names
    arrs = []
    for name, value in ((n_name, n), (c_name, c)):
        arr = np.asarray(value)
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
        ):
            raise ValueError(f"{name} must be an integer count or array of counts, got {value!r}")
        if arr.size == 0:
            raise ValueError(f"{name} must be non-empty")
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer counts, got {value!r}")
        arrs.append(arr.astype(np.int64))
    try:
        n_arr, c_arr = np.broadcast_arrays(*arrs)
    except ValueError:
        raise ValueError(
            f"{n_name} and {c_name} must broadcast together, got shapes {arrs[0].shape} and {arrs[1].shape}"
        ) from None
    if (n_arr < 1).any():
        raise ValueError(f"{n_name} must be >= 1, got min({n_name}) = {n_arr.min()}")
    if (c_arr < 0).any() or (c_arr > n_arr).any():
        i = tuple(np.argwhere((c_arr < 0) | (c_arr > n_arr))[0])
        raise ValueError(f"{c_name} must lie in [0, {n_name}], got {c_name} = {c_arr[i]} with {n_name} = {n_arr[i]}")
    return n_arr, c_arr


def _check_k_le_n(k: object, n_arr: np.ndarray, name: str = "k") -> int:
    k = _check_int(k, name, minimum=1)
    if k > n_arr.min():
        raise ValueError(f"{name} = {k} exceeds the number of samples n = {int(n_arr.min())}")
    return k


def _per_pair(n_arr: np.ndarray, c_arr: np.ndarray, fn) -> np.ndarray | float:
    """Apply ``fn(n, c)`` once per distinct (n, c) pair and scatter back to the input shape."""
    pairs = np.stack([n_arr.ravel(), c_arr.ravel()], axis=1)
    uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
    vals = np.array([fn(int(nn), int(cc)) for nn, cc in uniq], dtype=float)
    out = vals[inverse.reshape(-1)].reshape(n_arr.shape)
    return float(out) if out.ndim == 0 else out


def _check_ks(ks: object, n: int, name: str = "ks") -> list[int]:
    if isinstance(ks, (int, np.integer)) and not isinstance(ks, bool):
        ks = [ks]
    if not isinstance(ks, Iterable):
        raise ValueError(f"{name} must be an iterable of integers, got {ks!r}")
    out = [_check_int(k, f"{name}[{i}]", minimum=1) for i, k in enumerate(ks)]
    if not out:
        raise ValueError(f"{name} must not be empty")
    for i, k in enumerate(out):
        if k > n:
            raise ValueError(f"{name}[{i}] = {k} exceeds the number of samples n = {n}")
    return out


# --------------------------------------------------------------------------------------------
# pass@k and pass^k
# --------------------------------------------------------------------------------------------


def pass_at_k(n: object, c: object, k: int) -> np.ndarray | float:
    """Unbiased pass@k per item: the probability that a size-``k`` subset has a correct sample.

    ``pass@k = 1 - C(n-c, k) / C(n, k)``, computed in the numerically stable product form
    ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` (1 when ``n - c < k``).

    Source: Chen et al. 2021, "Evaluating Large Language Models Trained on Code",
    arXiv:2107.03374, Sec. 2.1 (Eq. 1 and the numpy estimator of Figure 3).

    Args:
        n: number of samples per item; int or integer array, ``n >= 1``.
        c: number of correct samples per item; int or integer array broadcastable with ``n``,
            ``0 <= c <= n``.
        k: subset size, ``1 <= k <= min(n)``.

    Returns:
        Per-item pass@k in [0, 1] (probability, unitless): an array with the broadcast shape of
        ``n`` and ``c``, or a ``float`` if both are scalars. Average over items for the
        benchmark's pass@k.

    Raises:
        ValueError: ``n``/``c`` are not integer counts, ``n < 1``, ``c < 0``, ``c > n``, or ``k``
            is not an integer in ``[1, min(n)]``; the message names the argument.
    """
    n_arr, c_arr = _check_counts(n, c)
    k = _check_k_le_n(k, n_arr)

    def one(nn: int, cc: int) -> float:
        if nn - cc < k:
            return 1.0
        return float(1.0 - np.prod(1.0 - k / np.arange(nn - cc + 1, nn + 1)))

    return _per_pair(n_arr, c_arr, one)


def pass_at_k_curve(correct: object, ks: Iterable[int] | int) -> dict[int, float]:
    """Mean unbiased pass@k over items, for each ``k`` in ``ks``.

    Args:
        correct: binary correctness, shape ``(n_items, n_samples)`` (bool or 0/1).
        ks: subset sizes, each in ``[1, n_samples]``.

    Returns:
        ``{k: mean over items of pass_at_k(n_samples, c_i, k)}`` (fractions in [0, 1]).

    Raises:
        ValueError: ``correct`` is not a non-empty binary 2-D array, or a ``k`` is out of range.

    Source: Chen et al. 2021, arXiv:2107.03374, Sec. 2.1.
    """
    y = _check_matrix(correct, "correct", binary=True)
    n = y.shape[1]
    c = y.sum(axis=1).astype(np.int64)
    return {k: float(np.mean(pass_at_k(n, c, k))) for k in _check_ks(ks, n)}


def pass_hat_k(n: object, c: object, k: int) -> np.ndarray | float:
    """pass^k per item: the probability that *all* samples of a size-``k`` subset are correct.

    ``pass^k = C(c, k) / C(n, k) = prod_{i=0}^{k-1} (c - i) / (n - i)`` (0 when ``c < k``); the
    product form avoids huge binomials. It is unbiased for ``p**k``, the chance that ``k`` fresh
    i.i.d. trials all succeed. ``pass^1 = pass@1 = c/n``.

    Source: Yao et al. 2024, "tau-bench: A Benchmark for Tool-Agent-User Interaction in
    Real-World Domains", arXiv:2406.12045, Sec. 5 (definition of pass^k).

    Args:
        n: number of samples per item; int or integer array, ``n >= 1``.
        c: number of correct samples per item, broadcastable with ``n``, ``0 <= c <= n``.
        k: subset size, ``1 <= k <= min(n)``.

    Returns:
        Per-item pass^k in [0, 1]: array of the broadcast shape, or ``float`` for scalars.
        Average over items for the benchmark's pass^k (or use :func:`pass_hat_k_curve`).

    Raises:
        ValueError: as :func:`pass_at_k`.
    """
    n_arr, c_arr = _check_counts(n, c)
    k = _check_k_le_n(k, n_arr)

    def one(nn: int, cc: int) -> float:
        if cc < k:
            return 0.0
        i = np.arange(k)
        return float(np.prod((cc - i) / (nn - i)))

    return _per_pair(n_arr, c_arr, one)


def pass_hat_k_curve(correct: object, ks: Iterable[int] | int) -> dict[int, float]:
    """Mean pass^k over items for each ``k`` in ``ks`` (Yao et al. 2024, arXiv:2406.12045, Sec. 5).

    Args:
        correct: binary correctness, shape ``(n_items, n_samples)``.
        ks: subset sizes, each in ``[1, n_samples]``.

    Returns:
        ``{k: mean over items of pass_hat_k(n_samples, c_i, k)}``.

    Raises:
        ValueError: as :func:`pass_at_k_curve`.
    """
    y = _check_matrix(correct, "correct", binary=True)
    n = y.shape[1]
    c = y.sum(axis=1).astype(np.int64)
    return {k: float(np.mean(pass_hat_k(n, c, k))) for k in _check_ks(ks, n)}


# --------------------------------------------------------------------------------------------
# G-Pass@k_tau and mG-Pass@k
# --------------------------------------------------------------------------------------------

#: Slack subtracted before ``ceil(tau * k)`` so that e.g. ``0.3 * 10 = 3.0000000000000004``
#: gives 3, not 4 (the float product overshoots; exact arithmetic gives an integer).
_CEIL_EPS = 1e-9


def _min_correct(tau: float, k: int) -> int:
    return max(math.ceil(tau * k - _CEIL_EPS), 1)


def g_pass_at_k(n: object, c: object, k: int, tau: float) -> np.ndarray | float:
    """G-Pass@k_tau per item: probability that a size-``k`` subset has ``>= ceil(tau*k)`` correct.

    ``G-Pass@k_tau = sum_{j=ceil(tau*k)}^{c} C(c, j) C(n-c, k-j) / C(n, k)``, i.e. the upper tail
    ``P(X >= ceil(tau*k))`` of ``X ~ Hypergeometric(population n, successes c, draws k)``,
    evaluated with ``scipy.stats.hypergeom.sf``.

    Special cases: ``tau = 1`` gives pass^k (:func:`pass_hat_k`); any ``tau <= 1/k`` gives
    pass@k (:func:`pass_at_k`). Following the authors' reference implementation
    (github.com/open-compass/GPassK, ``compute_g_pass_at_k``: ``m = max(ceil(k*t), 1)``) the
    threshold is at least one correct sample, so ``tau = 0`` also gives pass@k. ``ceil(tau*k)``
    is taken with a 1e-9 slack so that float products such as ``0.3*10`` do not round up.

    Source: Liu et al. 2024, "Are Your LLMs Capable of Stable Reasoning?", arXiv:2412.13147,
    Sec. 2 (definition of G-Pass@k_tau).

    Args:
        n: samples per item (int or integer array, ``n >= 1``).
        c: correct samples per item, broadcastable with ``n``, ``0 <= c <= n``.
        k: subset size, ``1 <= k <= min(n)``.
        tau: threshold fraction in [0, 1].

    Returns:
        Per-item G-Pass@k_tau in [0, 1]: array of the broadcast shape, or ``float`` for scalars.

    Raises:
        ValueError: bad counts or ``k`` (as :func:`pass_at_k`), or ``tau`` not a number in [0, 1].
    """
    n_arr, c_arr = _check_counts(n, c)
    k = _check_k_le_n(k, n_arr)
    tau = _check_tau(tau)
    m = _min_correct(tau, k)
    out = np.asarray(hypergeom.sf(m - 1, n_arr, c_arr, k), dtype=float)
    out = np.clip(out, 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


def _check_tau(tau: object) -> float:
    if isinstance(tau, bool):
        raise ValueError(f"tau must be a number in [0, 1], got {tau!r}")
    try:
        t = float(tau)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"tau must be a number in [0, 1], got {tau!r}") from None
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"tau must be in [0, 1], got {tau!r}")
    return t


def mg_pass_at_k(n: object, c: object, k: int) -> np.ndarray | float:
    """mG-Pass@k per item: the area under G-Pass@k_tau for tau in [0.5, 1], scaled to [0, 1].

    ``mG-Pass@k = 2 * integral_{0.5}^{1} G-Pass@k_tau dtau
    = (2/k) * sum_{i=ceil(k/2)+1}^{k} G-Pass@k_{i/k}``, the discrete form published by the
    authors (and used by their reference code, ``compute_mg_pass_at_k``). The discrete sum equals
    the integral exactly for even ``k``; for odd ``k`` it omits the partial step just above
    ``tau = 0.5`` (and for ``k = 1`` the sum is empty, so mG-Pass@1 = 0).

    Source: Liu et al. 2024, arXiv:2412.13147, Sec. 2 (definition of mG-Pass@k).

    Args:
        n: as :func:`g_pass_at_k`.
        c: as :func:`g_pass_at_k`.
        k: as :func:`g_pass_at_k`.

    Returns:
        Per-item mG-Pass@k in [0, 1]: array of the broadcast shape, or ``float`` for scalars.

    Raises:
        ValueError: as :func:`pass_at_k`.
    """
    n_arr, c_arr = _check_counts(n, c)
    k = _check_k_le_n(k, n_arr)
    total = np.zeros(n_arr.shape, dtype=float)
    for i in range(math.ceil(k / 2) + 1, k + 1):
        total = total + np.asarray(hypergeom.sf(i - 1, n_arr, c_arr, k), dtype=float)
    out = np.clip(2.0 * total / k, 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------
# maj@k
# --------------------------------------------------------------------------------------------


def _maj_first_item(ans: Sequence[str | None], gold: str, k: int) -> float:
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for pos, a in enumerate(ans[:k]):
        if a is None:
            continue
        counts[a] = counts.get(a, 0) + 1
        first.setdefault(a, pos)
    if not counts:
        return 0.0
    winner = max(counts, key=lambda a: (counts[a], -first[a]))
    return 1.0 if winner == gold else 0.0


def _answer_profile(ans: Sequence[str | None], gold: str) -> tuple[int, tuple[int, ...], int]:
    """(gold count, sorted counts of the other non-None answers, None count) of one item."""
    counts = Counter(a for a in ans if a is not None)
    g = counts.pop(gold, 0)
    others = tuple(sorted(counts.values()))
    return g, others, len(ans) - g - sum(others)


def _maj_unbiased_profile(g: int, other_counts: tuple[int, ...], n_none: int, k: int) -> float:
    """Exact E[accuracy] of a majority vote over a uniform size-k subset (uniform tie-break).

    Let the gold answer occur g times among the n samples, the other (non-None) answers m_1..m_r
    times, None z times. A subset draws (t, x_1..x_r, x_None) with multivariate hypergeometric
    probability prod C(m_i, x_i) * C(g, t) * C(z, x_None) / C(n, k). Gold wins with probability
    1/(1+T) if t >= 1 and every x_i <= t, where T = #{i: x_i = t}; otherwise 0.

    For each t a DP over the answers with m_i >= t tracks (draws so far, number of ties T);
    answers with m_i < t can neither tie nor beat gold, so they are pooled with None (Vandermonde).
    Binomials are replaced by Binomial(m, k/n) pmfs, which differ from C(m, x) by the factor
    p^x (1-p)^(m-x); the factors multiply to p^k (1-p)^(n-k) for any full subset, so dividing by
    Binomial(n, k/n).pmf(k) instead of C(n, k) recovers the exact probability without overflow.
    """
    if g == 0:
        return 0.0
    others = np.array(other_counts, dtype=np.int64)
    n = g + int(others.sum()) + n_none
    if k == n:  # the whole sample: a deterministic vote with a uniform tie-break
        top = int(others.max()) if others.size else 0
        if g < top:
            return 0.0
        return 1.0 / (1 + int((others == g).sum()))
    p = k / n
    log_p, log_q = math.log(p), math.log1p(-p)

    def pmf(x: np.ndarray | int, m: int) -> np.ndarray:
        """Binomial(m, p) pmf at x (0 outside [0, m]); gammaln keeps it cheap and overflow-free."""
        x = np.asarray(x, dtype=float)
        ok = (x >= 0) & (x <= m)
        xs = np.where(ok, x, 0.0)
        logv = (
            gammaln(m + 1.0) - gammaln(xs + 1.0) - gammaln(m - xs + 1.0)
            + xs * log_p + (m - xs) * log_q
        )
        return np.where(ok, np.exp(logv), 0.0)

    norm = float(pmf(k, n))
    gold_pmf = pmf(np.arange(min(g, k) + 1), g)
    total = 0.0
    for t in range(1, min(g, k) + 1):
        rest = k - t  # draws left for the other answers and None
        big = others[others >= t]
        pooled = n_none + int(others[others < t].sum())
        t_cap = rest // t  # at most this many other answers can reach t draws
        w = np.zeros((rest + 1, t_cap + 1))
        w[0, 0] = 1.0
        if big.size:
            lag = np.arange(rest + 1)[:, None] - np.arange(rest + 1)[None, :]  # s_new - s_old
        for m in big:
            xmax = min(int(m), t, rest)
            coef = pmf(np.arange(xmax + 1), int(m))
            tie = 0.0
            if xmax == t:  # drawing exactly t of this answer ties it with gold
                tie, coef[t] = float(coef[t]), 0.0
            conv = np.where((lag >= 0) & (lag <= xmax), coef[np.clip(lag, 0, xmax)], 0.0)
            new = conv @ w
            if tie:
                new[t:, 1:] += tie * w[: rest + 1 - t, :t_cap]
            w = new
        # the pooled answers (and None) take the remaining rest - s draws
        pool = pmf(rest - np.arange(rest + 1), pooled)
        tie_share = 1.0 / (1.0 + np.arange(t_cap + 1))
        total += float(gold_pmf[t]) * float(pool @ w @ tie_share)
    return float(min(max(total / norm, 0.0), 1.0))


def _as_list(x: object, *, max_ndim: int = 1) -> list | None:
    """``x`` as a list, or None if it is not a list-like.

    List-like: a non-string sequence, or a numpy array of 1 to ``max_ndim`` dimensions.
    """
    if isinstance(x, np.ndarray):
        return x.tolist() if 1 <= x.ndim <= max_ndim else None
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        return None
    return list(x)


def maj_at_k(
    answers: Sequence[Sequence[str | None]],
    gold: Sequence[str],
    k: int,
    *,
    method: str = "unbiased",
    per_item: bool = False,
) -> float | np.ndarray:
    """Majority-vote accuracy (maj@k): is the most frequent answer among ``k`` samples the gold?

    Answers are compared as exact strings (normalize them beforehand); ``None`` (no answer
    extracted) is never a candidate, but it still uses up one of the ``k`` samples. If all
    ``k`` answers are ``None`` the vote is wrong.

    Methods:
        ``"first"``: vote over the first ``k`` samples of each item. Ties are broken
            deterministically: among the tied answers, the one that occurs first wins.
        ``"unbiased"``: the exact expectation over all ``C(n, k)`` size-``k`` subsets of the
            ``n`` samples, where ties are split uniformly: a subset in which the gold answer ties
            with ``T`` other answers for the top count contributes ``1/(1+T)``, the expected
            accuracy of a uniformly random tie-break. This is also the expectation of
            ``"first"`` over uniformly random orderings of the samples (by symmetry, each tied
            answer is equally likely to occur first). Computed exactly by a dynamic program over
            answer counts (see ``_maj_unbiased_profile``), at most O(k) small matrix products per
            answer per item; items with the same count profile are computed once.

    Source: majority voting / self-consistency, Wang et al. 2023, "Self-Consistency Improves
    Chain of Thought Reasoning in Language Models", arXiv:2203.11171, Sec. 2; maj@k as reported
    by Lewkowycz et al. 2022 (Minerva, arXiv:2206.14858). The subset-expectation
    estimator follows the same construction as the unbiased pass@k of Chen et al. 2021, Sec. 2.1.

    Args:
        answers: per item, the list of extracted answers of its samples (``str`` or ``None``);
            items may have different numbers of samples ``n_i``. Nested sequences, 1-D numpy
            arrays per item, or a 2-D ``(n_items, n_samples)`` numpy array are accepted.
        gold: per item, the gold answer (``str``), same length as ``answers``.
        k: number of samples voted over, ``1 <= k <= min_i n_i``.
        method: ``"unbiased"`` (default) or ``"first"``.
        per_item: return the per-item values instead of their mean.

    Returns:
        The mean accuracy over items (``float`` in [0, 1]), or with ``per_item=True`` an array
        of shape ``(n_items,)``.

    Raises:
        ValueError: ``answers``/``gold`` empty or of different lengths, an answer that is
            neither ``str`` nor ``None``, a gold that is not a ``str``, ``k`` out of range, or an
            unknown ``method``; the message names the argument (and item index).
    """
    if method not in ("unbiased", "first"):
        raise ValueError(f"method must be 'unbiased' or 'first', got {method!r}")
    answers = _as_list(answers, max_ndim=2)
    gold = _as_list(gold)
    if answers is None:
        raise ValueError("answers must be a sequence (one list of answers per item)")
    if gold is None:
        raise ValueError("gold must be a sequence of strings (one per item)")
    if len(answers) == 0:
        raise ValueError("answers must not be empty")
    if len(answers) != len(gold):
        raise ValueError(f"answers has {len(answers)} items but gold has {len(gold)}")
    k = _check_int(k, "k", minimum=1)
    out = np.empty(len(answers))
    memo: dict[tuple[int, tuple[int, ...], int], float] = {}  # items sharing a count profile
    for i, (ans, g) in enumerate(zip(answers, gold, strict=True)):
        ans = _as_list(ans)
        if ans is None:
            kind = type(answers[i]).__name__
            raise ValueError(f"answers[{i}] must be a list of answers, got {kind}")
        if not isinstance(g, str):
            raise ValueError(f"gold[{i}] must be a str, got {g!r}")
        for j, a in enumerate(ans):
            if a is not None and not isinstance(a, str):
                raise ValueError(f"answers[{i}][{j}] must be a str or None, got {a!r}")
        if k > len(ans):
            raise ValueError(f"k = {k} exceeds the {len(ans)} samples of answers[{i}]")
        if method == "first":
            out[i] = _maj_first_item(ans, g, k)
        else:
            profile = _answer_profile(ans, g)
            if profile not in memo:
                memo[profile] = _maj_unbiased_profile(*profile, k)
            out[i] = memo[profile]
    return out if per_item else float(out.mean())
