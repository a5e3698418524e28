"""Tests of goodbadgreedy.stats.best_of_n: unbiased and first-N Best-of-N and companions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from goodbadgreedy.stats.best_of_n import (
    best_of_n_curve,
    best_of_n_first,
    best_of_n_unbiased,
    oracle_at_n,
    random_at_n,
    subset_rank_weights,
    worst_of_n,
)
from goodbadgreedy.stats.estimators import pass_at_k

# ------------------------------------------------------------------------------------------
# brute force over all size-N subsets, ties broken uniformly
# ------------------------------------------------------------------------------------------


def brute_extreme(r: np.ndarray, y: np.ndarray, N: int, *, largest: bool) -> float:
    """Average over all N-subsets of the mean correctness of the subset's tied extreme samples."""
    vals = []
    for sub in itertools.combinations(range(len(r)), N):
        rs = r[list(sub)]
        target = rs.max() if largest else rs.min()
        picks = [i for i in sub if r[i] == target]
        vals.append(np.mean(y[picks]))  # uniform pick among the tied extremes
    return float(np.mean(vals))


def brute_max_correct(y: np.ndarray, N: int) -> float:
    return float(np.mean([y[list(s)].max() for s in itertools.combinations(range(len(y)), N)]))


def reference_first(r_row, y_row, N) -> float:
    """Song et al.'s reference loop: samples 0..N-1, update only on a strictly larger reward."""
    best, idx = -np.inf, -1
    for j in range(N):
        if r_row[j] > best:
            best, idx = r_row[j], j
    return float(y_row[idx])


# ------------------------------------------------------------------------------------------


def test_subset_rank_weights_hand_values():
    # n=5, N=2: q_j = C(5-j, 1)/C(5, 2) = (4, 3, 2, 1, 0)/10
    np.testing.assert_allclose(subset_rank_weights(5, 2), [0.4, 0.3, 0.2, 0.1, 0.0], atol=1e-15)
    np.testing.assert_allclose(subset_rank_weights(4, 1), [0.25] * 4)  # N=1: uniform
    np.testing.assert_allclose(subset_rank_weights(4, 4), [1, 0, 0, 0])  # N=n: the best
    for n in (1, 7, 50, 2000):
        for N in {1, max(1, n // 3), n}:
            q = subset_rank_weights(n, N)
            assert q.sum() == pytest.approx(1.0, abs=1e-12)
            assert np.all(q >= 0) and np.all(np.diff(q) <= 1e-15)  # better rank, more weight
            j = np.arange(1, n + 1)
            if n <= 50:  # against exact binomials
                want = [math.comb(n - jj, N - 1) / math.comb(n, N) for jj in j]
                np.testing.assert_allclose(q, want, rtol=1e-12, atol=1e-300)


def test_best_of_n_hand_example_with_tie():
    r = np.array([[1.0, 2.0, 2.0, 0.5]])
    y = np.array([[0.0, 1.0, 0.0, 1.0]])
    # N=2, the six pairs (sample indices): {0,1}->1, {0,2}->0, {0,3}->0 (r=1 beats 0.5),
    # {1,2}-> tie at r=2, uniform pick -> 0.5, {1,3}->1, {2,3}->0  => 2.5/6
    assert best_of_n_unbiased(r, y, 2) == pytest.approx(2.5 / 6)
    # via the group formula: top group {1,2} (ybar 0.5) has weight q1+q2 = (3+2)/6,
    # group {0} (y 0) weight 1/6, group {3} weight 0  => 0.5 * 5/6 = 2.5/6
    # worst: {0,1}->0, {0,2}->0, {0,3}->1, {1,2}->0.5, {1,3}->1, {2,3}->1 => 3.5/6
    assert worst_of_n(r, y, 2) == pytest.approx(3.5 / 6)
    # first 2 samples: r = (1, 2) -> sample 1 -> correct
    assert best_of_n_first(r, y, 2) == 1.0
    # first 3: r = (1, 2, 2): tie, the first (sample 1) wins -> 1
    assert best_of_n_first(r, y, 3) == 1.0
    assert worst_of_n(r, y, 3, method="first") == 0.0  # argmin of (1, 2, 2) is sample 0
    # N = n: tie-averaged correctness of the top group = 0.5
    assert best_of_n_unbiased(r, y, 4) == pytest.approx(0.5)
    # N = 1: a random sample -> mean correctness
    assert best_of_n_unbiased(r, y, 1) == pytest.approx(0.5)


@pytest.mark.parametrize("seed", range(5))
def test_unbiased_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    for _ in range(6):
        n_items = 3
        n = int(rng.integers(2, 9))
        r = rng.integers(0, 4, size=(n_items, n)).astype(float)  # heavy ties
        if rng.random() < 0.5:
            y = rng.integers(0, 2, size=(n_items, n)).astype(float)
        else:
            y = rng.random((n_items, n))  # fractional scores in [0, 1]
        for N in range(1, n + 1):
            best = best_of_n_unbiased(r, y, N, per_item=True)
            worst = worst_of_n(r, y, N, per_item=True)
            orac = oracle_at_n(y, N, per_item=True)
            for i in range(n_items):
                assert best[i] == pytest.approx(brute_extreme(r[i], y[i], N, largest=True))
                assert worst[i] == pytest.approx(brute_extreme(r[i], y[i], N, largest=False))
                assert orac[i] == pytest.approx(brute_max_correct(y[i], N))
            assert best_of_n_unbiased(r, y, N) == pytest.approx(best.mean())


def test_first_matches_reference_loop():
    rng = np.random.default_rng(11)
    r = rng.integers(0, 3, size=(40, 8)).astype(float)
    y = rng.integers(0, 2, size=(40, 8))
    for N in range(1, 9):
        got = best_of_n_first(r, y, N, per_item=True)
        want = [reference_first(r[i], y[i], N) for i in range(40)]
        np.testing.assert_array_equal(got, want)


def test_oracle_equals_pass_at_k_and_random_equals_mean():
    rng = np.random.default_rng(3)
    y = (rng.random((50, 12)) < rng.random((50, 1))).astype(int)
    for N in (1, 2, 5, 12):
        assert oracle_at_n(y, N) == pytest.approx(np.mean(pass_at_k(12, y.sum(1), N)), abs=1e-12)
        assert random_at_n(y, N) == pytest.approx(y.mean())
        assert oracle_at_n(y, N, method="first") == pytest.approx(y[:, :N].max(1).mean())
        assert random_at_n(y, N, method="first") == pytest.approx(y[:, :N].mean())
    # a random pick from a random N-subset is a random sample: brute force on one item
    row = np.array([1, 0, 0, 1, 1.0])
    subs = list(itertools.combinations(range(5), 3))
    assert random_at_n(row[None], 3) == pytest.approx(np.mean([row[list(s)].mean() for s in subs]))


def test_ordering_of_estimators_and_constant_rewards():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=(30, 10))
    r = y + rng.normal(0, 0.8, size=y.shape)  # an informative but noisy reward
    for N in (2, 4, 10):
        w, rnd, b, o = (worst_of_n(r, y, N), random_at_n(y, N), best_of_n_unbiased(r, y, N),
                        oracle_at_n(y, N))
        assert w <= rnd <= b <= o
    # all rewards tied: every pick is uniform -> random@N for every N
    flat = np.zeros_like(r)
    for N in (1, 3, 10):
        assert best_of_n_unbiased(flat, y, N) == pytest.approx(y.mean())
        assert worst_of_n(flat, y, N) == pytest.approx(y.mean())
    # perfect reward: best-of-N = oracle@N
    assert best_of_n_unbiased(y.astype(float), y, 4) == pytest.approx(oracle_at_n(y, 4))


def test_infinite_rewards_and_large_n():
    r = np.array([[np.inf, -np.inf, 0.0, np.inf]])
    y = np.array([[1, 0, 0, 0]])
    # N = n: top group {0, 3} (both +inf) -> 0.5
    assert best_of_n_unbiased(r, y, 4) == pytest.approx(0.5)
    assert worst_of_n(r, y, 4) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    r = rng.normal(size=(5, 2000))
    y = rng.integers(0, 2, size=(5, 2000))
    v = best_of_n_unbiased(r, y, 1000, per_item=True)
    assert np.all(np.isfinite(v)) and np.all((v >= 0) & (v <= 1))


def test_curve():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=(20, 8))
    r = rng.normal(size=(20, 8))
    cur = best_of_n_curve(r, y, [1, 2, 8])
    assert set(cur) == {"N", "best", "worst", "oracle", "random"}
    np.testing.assert_array_equal(cur["N"], [1, 2, 8])
    assert cur["best"][1] == pytest.approx(best_of_n_unbiased(r, y, 2))
    assert cur["oracle"][2] == pytest.approx(oracle_at_n(y, 8))
    assert np.all(np.diff(cur["oracle"]) >= 0)
    assert cur["best"][0] == pytest.approx(cur["random"][0]) == pytest.approx(y.mean())
    first = best_of_n_curve(r, y, [3], method="first")
    assert first["best"][0] == best_of_n_first(r, y, 3)
    assert first["worst"][0] == worst_of_n(r, y, 3, method="first")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: best_of_n_unbiased(np.zeros((2, 3)), np.zeros((2, 4)), 1), "same shape"),
        (lambda: best_of_n_unbiased(np.zeros((2, 3)), np.zeros((2, 3)), 4), "N = 4 exceeds"),
        (lambda: best_of_n_unbiased(np.zeros((2, 3)), np.zeros((2, 3)), 0), "N must be >= 1"),
        (
            lambda: best_of_n_unbiased(np.full((1, 2), np.nan), np.zeros((1, 2)), 1),
            "rewards contains NaN",
        ),
        (
            lambda: best_of_n_first(np.zeros((1, 2)), np.array([[0, 2]]), 1),
            r"correct must lie in \[0, 1\]",
        ),
        (lambda: best_of_n_first(np.zeros(3), np.zeros(3), 1), "rewards must be 2-D"),
        (lambda: worst_of_n(np.zeros((1, 2)), np.zeros((1, 2)), 1, method="all"), "method must be"),
        (lambda: oracle_at_n(np.zeros((0, 2)), 1), "correct must be non-empty"),
        (
            lambda: best_of_n_curve(np.zeros((1, 2)), np.zeros((1, 2)), [1, 3]),
            r"Ns\[1\] = 3 exceeds",
        ),
        (lambda: subset_rank_weights(3, 4), "N = 4 exceeds"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
