"""Best-of-N (and its companions) from ``n`` scored samples per item.

Inputs are ``rewards`` (float, shape ``(n_items, n_samples)``; higher is better, +-inf allowed,
NaN rejected) and ``correct`` (shape ``(n_items, n_samples)``, values in [0, 1], usually 0/1).

Two estimators of "pick the highest-reward sample out of N":

* ``"first"`` (Song et al. 2024, "The Good, The Bad, and The Greedy", arXiv:2407.10457, Best-of-N
  experiments; their reference code ``best_of_n_eval/eval_*_sample_reward.py`` in
  github.com/Yifan-Song793/GoodBadGreedy keeps samples ``0..N-1`` and updates the pick only on a
  strictly larger reward): use the first ``N`` samples of each item, take the argmax reward, the
  earliest sample wins ties. Cheap but depends on the sample order (one draw of the N-subset).
* ``"unbiased"``: the exact expectation over all ``C(n, N)`` size-``N`` subsets of the ``n``
  samples (the Best-of-N analogue of the pass@k estimator of Chen et al. 2021, Sec. 2.1).

Derivation of the unbiased estimator (ties included)
----------------------------------------------------
Sort an item's samples by reward, best first, and let the distinct reward levels be
``v_1 > v_2 > ... > v_L`` with group sizes ``g_1, ..., g_L`` and ``A_l = g_1 + ... + g_l``
(``A_0 = 0``). For a uniformly random size-``N`` subset S:

* ``P(max reward of S = v_l) = [C(n - A_{l-1}, N) - C(n - A_l, N)] / C(n, N)`` =: ``w_l``
  (S avoids the ``A_{l-1}`` better samples, minus the subsets that also avoid group ``l``).
* Given ``max = v_l`` and that S holds ``m >= 1`` members of group ``l``, those members are a
  uniform ``m``-subset of the group, and the pick is uniform among them (ties are broken
  uniformly at random). So the picked sample is uniform over the whole group, and
  ``E[correct | max = v_l] = ybar_l``, the group's mean correctness.

Hence ``E[correct of pick] = sum_l w_l * ybar_l``. Without ties (all ``g_l = 1``) Pascal's rule
gives the weight of the ``j``-th best sample (1-based) ``q_j = C(n-j, N-1) / C(n, N)``; with ties
``w_l = sum of q_j over the group's positions``, i.e. the tied samples share the group's total
weight equally. The implementation computes ``q_j`` by the stable recurrence
``q_1 = N/n``, ``q_{j+1} = q_j * (n-j-N+1)/(n-j)``, replaces each sample's correctness by its tie
group's mean, and takes the ``q``-weighted sum. Ties are exact float equality of rewards.
Worst-of-N is the same with the order reversed.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from goodbadgreedy.stats.estimators import _check_int, _check_ks, _check_matrix

__all__ = [
    "best_of_n_unbiased",
    "best_of_n_first",
    "worst_of_n",
    "oracle_at_n",
    "random_at_n",
    "best_of_n_curve",
    "subset_rank_weights",
]

_METHODS = ("unbiased", "first")


def subset_rank_weights(n: int, N: int) -> np.ndarray:
    """Probability that the ``j``-th ranked of ``n`` samples is the top of a random ``N``-subset.

    ``q_j = C(n - j, N - 1) / C(n, N)`` for ``j = 1..n`` (0 once ``n - j < N - 1``), computed by
    the recurrence ``q_1 = N/n``, ``q_{j+1} = q_j (n - j - N + 1) / (n - j)``; ``sum_j q_j = 1``.

    Args:
        n: number of samples, ``n >= 1``.
        N: subset size, ``1 <= N <= n``.

    Returns:
        Array of shape ``(n,)`` of probabilities (index 0 = the best sample).

    Raises:
        ValueError: ``n`` or ``N`` not integers, ``n < 1`` or ``N`` outside ``[1, n]``.
    """
    n = _check_int(n, "n", minimum=1)
    N = _check_int(N, "N", minimum=1)
    if N > n:
        raise ValueError(f"N = {N} exceeds the number of samples n = {n}")
    q = np.zeros(n)
    q[0] = N / n
    for j in range(1, n):  # q[j] is q_{j+1} in 1-based notation
        num = n - j - N + 1
        if num <= 0:
            break
        q[j] = q[j - 1] * num / (n - j)
    return q


def _check_pair(rewards: object, correct: object) -> tuple[np.ndarray, np.ndarray]:
    r = _check_matrix(rewards, "rewards", allow_inf=True)
    y = _check_matrix(correct, "correct", unit=True)
    if r.shape != y.shape:
        raise ValueError(
            f"rewards and correct must have the same shape, got {r.shape} and {y.shape}"
        )
    return r, y


def _check_N(N: object, n: int) -> int:
    N = _check_int(N, "N", minimum=1)
    if N > n:
        raise ValueError(f"N = {N} exceeds the number of samples per item n = {n}")
    return N


def _check_method(method: str) -> str:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    return method


def _expected_extreme(r: np.ndarray, y: np.ndarray, N: int, *, largest: bool) -> np.ndarray:
    """Per-item E[y of the max- (or min-) reward sample of a uniform N-subset], uniform ties."""
    n_items, n = r.shape
    key = -r if largest else r
    order = np.argsort(key, axis=1, kind="stable")
    rs = np.take_along_axis(r, order, axis=1)
    ys = np.take_along_axis(y, order, axis=1)
    new_group = np.ones((n_items, n), dtype=bool)
    new_group[:, 1:] = rs[:, 1:] != rs[:, :-1]
    gid = np.cumsum(new_group.ravel()) - 1  # column 0 always starts a group: rows never merge
    sums = np.bincount(gid, weights=ys.ravel())
    counts = np.bincount(gid)
    ybar = (sums / counts)[gid].reshape(n_items, n)
    out = ybar @ subset_rank_weights(n, N)
    return np.clip(out, 0.0, 1.0)


def _finish(per: np.ndarray, per_item: bool) -> float | np.ndarray:
    return per if per_item else float(per.mean())


def best_of_n_unbiased(
    rewards: object, correct: object, N: int, *, per_item: bool = False
) -> float | np.ndarray:
    """Unbiased Best-of-N: expected correctness of the top-reward sample of a random N-subset.

    ``E = sum_j q_j * ybar(j)`` over samples sorted by reward (best first), with
    ``q_j = C(n-j, N-1)/C(n, N)`` and ``ybar(j)`` the mean correctness of sample ``j``'s reward
    tie group (ties broken uniformly at random; see the module docstring for the derivation).
    ``N = 1`` gives the mean correctness; ``N = n`` the (tie-averaged) correctness of the
    highest-reward sample(s).

    Source: Best-of-N selection as evaluated by Song et al. 2024, arXiv:2407.10457 (Best-of-N
    experiments); subset-expectation construction as in Chen et al. 2021, arXiv:2107.03374,
    Sec. 2.1.

    Args:
        rewards: reward-model scores, shape ``(n_items, n_samples)``; higher is better.
        correct: correctness in [0, 1], same shape.
        N: subset size, ``1 <= N <= n_samples``.
        per_item: return the ``(n_items,)`` per-item values instead of their mean.

    Returns:
        Mean expected correctness over items (``float`` in [0, 1]), or the per-item array.

    Raises:
        ValueError: shapes differ or are not 2-D/non-empty, NaN rewards, correctness outside
            [0, 1], or ``N`` out of range.
    """
    r, y = _check_pair(rewards, correct)
    N = _check_N(N, r.shape[1])
    return _finish(_expected_extreme(r, y, N, largest=True), per_item)


def best_of_n_first(
    rewards: object, correct: object, N: int, *, per_item: bool = False
) -> float | np.ndarray:
    """Best-of-N on the first ``N`` samples: correctness of the argmax reward, first wins ties.

    This is the variant of Song et al. 2024, arXiv:2407.10457 (Best-of-N experiments; reference
    code ``best_of_n_eval/eval_gsm_sample_reward.py``: samples ``0..N-1``, strict ``>`` update).

    Args, Returns, Raises: as :func:`best_of_n_unbiased`.
    """
    r, y = _check_pair(rewards, correct)
    N = _check_N(N, r.shape[1])
    idx = np.argmax(r[:, :N], axis=1)  # argmax returns the first maximal index
    return _finish(y[np.arange(y.shape[0]), idx], per_item)


def worst_of_n(
    rewards: object,
    correct: object,
    N: int,
    *,
    method: str = "unbiased",
    per_item: bool = False,
) -> float | np.ndarray:
    """Worst-of-N: correctness of the *lowest*-reward sample out of N.

    ``method="unbiased"``: exact expectation over all size-N subsets, ties uniform (the
    derivation of :func:`best_of_n_unbiased` with the order reversed: weight
    ``C(n-j, N-1)/C(n, N)`` for the ``j``-th *worst* sample). ``method="first"``: first ``N``
    samples, argmin, the first sample wins ties.

    Args:
        rewards: as :func:`best_of_n_unbiased`.
        correct: as :func:`best_of_n_unbiased`.
        N: as :func:`best_of_n_unbiased`.
        per_item: as :func:`best_of_n_unbiased`.
        method: ``"unbiased"`` or ``"first"``.

    Returns:
        Mean (``float``) or per-item array.

    Raises:
        ValueError: as :func:`best_of_n_unbiased`, or an unknown ``method``.
    """
    _check_method(method)
    r, y = _check_pair(rewards, correct)
    N = _check_N(N, r.shape[1])
    if method == "unbiased":
        return _finish(_expected_extreme(r, y, N, largest=False), per_item)
    idx = np.argmin(r[:, :N], axis=1)
    return _finish(y[np.arange(y.shape[0]), idx], per_item)


def oracle_at_n(
    correct: object, N: int, *, method: str = "unbiased", per_item: bool = False
) -> float | np.ndarray:
    """Oracle@N: the best correctness among N samples (a perfect verifier picks the sample).

    ``method="unbiased"``: expected maximum correctness over all size-N subsets (computed as
    Best-of-N with the correctness itself as the reward); for binary correctness this equals
    the unbiased pass@N of Chen et al. 2021, Sec. 2.1 (:func:`~.estimators.pass_at_k`).
    ``method="first"``: max correctness over the first N samples.

    Args:
        correct: correctness in [0, 1], shape ``(n_items, n_samples)``.
        N: subset size, ``1 <= N <= n_samples``.
        method: ``"unbiased"`` or ``"first"``.
        per_item: return the per-item array instead of the mean.

    Returns:
        Mean (``float`` in [0, 1]) or per-item array.

    Raises:
        ValueError: bad ``correct`` or ``N``, or an unknown ``method``.
    """
    _check_method(method)
    y = _check_matrix(correct, "correct", unit=True)
    N = _check_N(N, y.shape[1])
    if method == "unbiased":
        return _finish(_expected_extreme(y, y, N, largest=True), per_item)
    return _finish(y[:, :N].max(axis=1), per_item)


def random_at_n(
    correct: object, N: int, *, method: str = "unbiased", per_item: bool = False
) -> float | np.ndarray:
    """Random@N: correctness of a uniformly random pick among N samples (a useless verifier).

    ``method="unbiased"``: a random pick from a random N-subset is a uniformly random sample, so
    the value is the item's mean correctness over all ``n`` samples, for every ``N``.
    ``method="first"``: mean correctness over the first ``N`` samples.

    Args, Returns, Raises: as :func:`oracle_at_n`.
    """
    _check_method(method)
    y = _check_matrix(correct, "correct", unit=True)
    N = _check_N(N, y.shape[1])
    if method == "unbiased":
        return _finish(y.mean(axis=1), per_item)
    return _finish(y[:, :N].mean(axis=1), per_item)


def best_of_n_curve(
    rewards: object,
    correct: object,
    Ns: Iterable[int] | int,
    method: str = "unbiased",
) -> dict[str, np.ndarray]:
    """Best-, worst-, oracle- and random-of-N (means over items) for each N in ``Ns``.

    Args:
        rewards: shape ``(n_items, n_samples)``, higher is better.
        correct: correctness in [0, 1], same shape.
        Ns: subset sizes, each in ``[1, n_samples]``.
        method: ``"unbiased"`` (expectation over all N-subsets, uniform ties) or ``"first"``
            (first N samples, first wins ties).

    Returns:
        A column table ``{"N": int array, "best": ..., "worst": ..., "oracle": ...,
        "random": ...}``, float arrays aligned with ``Ns`` (``polars.DataFrame(result)`` turns
        it into a frame).

    Raises:
        ValueError: bad arrays, an ``N`` out of range, or an unknown ``method``.
    """
    _check_method(method)
    r, y = _check_pair(rewards, correct)
    ns = _check_ks(Ns, r.shape[1], name="Ns")
    best_fn = best_of_n_unbiased if method == "unbiased" else best_of_n_first
    return {
        "N": np.array(ns, dtype=np.int64),
        "best": np.array([best_fn(r, y, N) for N in ns]),
        "worst": np.array([worst_of_n(r, y, N, method=method) for N in ns]),
        "oracle": np.array([oracle_at_n(y, N, method=method) for N in ns]),
        "random": np.array([random_at_n(y, N, method=method) for N in ns]),
    }
