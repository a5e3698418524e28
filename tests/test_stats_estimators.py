"""Tests of goodbadgreedy.stats.estimators: pass@k, pass^k, G-Pass@k_tau, mG-Pass@k, maj@k."""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import hypergeom

from goodbadgreedy.stats.estimators import (
    g_pass_at_k,
    maj_at_k,
    mg_pass_at_k,
    pass_at_k,
    pass_at_k_curve,
    pass_hat_k,
    pass_hat_k_curve,
)

# ------------------------------------------------------------------------------------------
# reference implementations (exact integers / brute force)
# ------------------------------------------------------------------------------------------


def exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    # Chen et al. 2021, Eq. 1: 1 - C(n-c, k) / C(n, k)
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


def brute_pass_at_k(correct: list[int], k: int) -> float:
    subsets = list(itertools.combinations(correct, k))
    return sum(any(s) for s in subsets) / len(subsets)


def brute_pass_hat_k(correct: list[int], k: int) -> float:
    subsets = list(itertools.combinations(correct, k))
    return sum(all(s) for s in subsets) / len(subsets)


def exact_g_pass(n: int, c: int, k: int, m: int) -> Fraction:
    # Liu et al. 2024: sum_{j=m}^{c} C(c,j) C(n-c,k-j) / C(n,k)
    return sum(
        (Fraction(math.comb(c, j) * math.comb(n - c, k - j), math.comb(n, k))
         for j in range(m, min(c, k) + 1)),
        Fraction(0),
    )


def vote_uniform(window) -> dict[str, float]:
    """Win probability of each answer in a vote with a uniform tie-break (None never wins)."""
    counts = Counter(a for a in window if a is not None)
    if not counts:
        return {}
    top = max(counts.values())
    tied = [a for a, c in counts.items() if c == top]
    return {a: 1.0 / len(tied) for a in tied}


def brute_maj_unbiased(ans, gold, k) -> float:
    subsets = list(itertools.combinations(ans, k))
    return sum(vote_uniform(s).get(gold, 0.0) for s in subsets) / len(subsets)


def exact_maj_by_counts(class_counts: list[int], gold_count: int, n_none: int, k: int) -> Fraction:
    """Independent exact maj@k: enumerate draw vectors (x_gold, x_1..x_r), integer binomials."""
    n = gold_count + sum(class_counts) + n_none
    total = Fraction(0)
    ranges = [range(0, min(m, k) + 1) for m in class_counts]
    for t in range(1, min(gold_count, k) + 1):
        for xs in itertools.product(*ranges):
            s = sum(xs)
            rest = k - t - s
            if rest < 0 or rest > n_none or any(x > t for x in xs):
                continue
            ties = sum(1 for x in xs if x == t)
            ways = math.comb(gold_count, t) * math.comb(n_none, rest)
            for m, x in zip(class_counts, xs, strict=True):
                ways *= math.comb(m, x)
            total += Fraction(ways, 1 + ties)
    return total / math.comb(n, k)


# ------------------------------------------------------------------------------------------
# pass@k
# ------------------------------------------------------------------------------------------


def test_pass_at_k_hand_values():
    # n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10 = 0.7
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7, abs=1e-15)
    # k=1: pass@1 = c/n = 2/5
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4, abs=1e-15)
    # n - c < k: every 2-subset of 5 with 4 correct has a correct sample -> 1
    assert pass_at_k(5, 4, 2) == 1.0
    # c = 0 -> 0; c = n -> 1
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 5, 3) == 1.0
    # n=10, c=3, k=5: 1 - C(7,5)/C(10,5) = 1 - 21/252 = 11/12
    assert pass_at_k(10, 3, 5) == pytest.approx(11 / 12, abs=1e-14)
    assert isinstance(pass_at_k(5, 2, 2), float)


def test_pass_at_k_matches_exact_formula_and_brute_force():
    for n in range(1, 13):
        for c in range(0, n + 1):
            for k in range(1, n + 1):
                got = pass_at_k(n, c, k)
                assert got == pytest.approx(float(exact_pass_at_k(n, c, k)), abs=1e-12)
                if n <= 8:
                    correct = [1] * c + [0] * (n - c)
                    assert got == pytest.approx(brute_pass_at_k(correct, k), abs=1e-12)


def test_pass_at_k_large_n_is_stable():
    # C(n-1, k)/C(n, k) = (n-k)/n, so pass@k with one correct sample is k/n exactly
    assert pass_at_k(1000, 1, 500) == pytest.approx(0.5, abs=1e-12)
    assert pass_at_k(5000, 1, 17) == pytest.approx(17 / 5000, abs=1e-14)
    # huge binomials (C(2000, 1000) overflows float) but the product form is fine
    assert pass_at_k(2000, 1000, 1000) == pytest.approx(float(exact_pass_at_k(2000, 1000, 1000)))


def test_pass_at_k_vectorized_and_broadcast():
    c = np.array([0, 1, 2, 3, 4, 5])
    got = pass_at_k(5, c, 2)
    assert got.shape == (6,)
    want = [float(exact_pass_at_k(5, int(ci), 2)) for ci in c]
    np.testing.assert_allclose(got, want, atol=1e-14)
    # per-item n, 2-D broadcast
    n = np.array([[4], [8]])
    got2 = pass_at_k(n, np.array([1, 2, 3]), 3)
    assert got2.shape == (2, 3)
    assert got2[1, 2] == pytest.approx(float(exact_pass_at_k(8, 3, 3)))
    # float counts with integer values (e.g. sums of a 0/1 float matrix) are accepted
    assert pass_at_k(5.0, np.float64(2.0), 2) == pytest.approx(0.7)


def test_pass_at_k_curve():
    correct = np.array([[1, 0, 0, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    # item 0: c=2 -> pass@2 = 0.7; item 1: 0; item 2: 1  -> mean 1.7/3
    curve = pass_at_k_curve(correct, [1, 2, 5])
    assert list(curve) == [1, 2, 5]
    assert curve[2] == pytest.approx(1.7 / 3)
    assert curve[1] == pytest.approx(correct.mean())  # pass@1 = mean correctness
    assert curve[5] == pytest.approx(2 / 3)  # any correct among all 5
    assert pass_at_k_curve(correct.astype(int), 2) == {2: pytest.approx(1.7 / 3)}


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((5, 2, 6), "k = 6 exceeds"),
        ((5, 2, 0), "k must be >= 1"),
        ((5, 6, 2), r"c must lie in \[0, n\], got c = 6 with n = 5"),
        ((5, -1, 2), r"c must lie in \[0, n\], got c = -1 with n = 5"),
        ((0, 0, 1), "n must be >= 1"),
        ((5, 2.5, 2), "c must hold integer counts"),
        ((5, 2, 2.0), "k must be an integer"),
        ((5, 2, True), "k must be an integer"),
        ((np.array([5, 5]), np.array([1, 2, 3]), 2), "broadcast"),
        (("5", 2, 2), "n must be an integer count"),
    ],
)
def test_pass_at_k_errors(args, match):
    with pytest.raises(ValueError, match=match):
        pass_at_k(*args)


def test_curve_errors():
    with pytest.raises(ValueError, match="correct must be binary"):
        pass_at_k_curve(np.array([[0.5, 1.0]]), [1])
    with pytest.raises(ValueError, match="correct must be 2-D"):
        pass_at_k_curve(np.array([1, 0]), [1])
    with pytest.raises(ValueError, match=r"ks\[1\] = 3 exceeds"):
        pass_at_k_curve(np.array([[1, 0]]), [1, 3])
    with pytest.raises(ValueError, match="NaN"):
        pass_hat_k_curve(np.array([[1.0, np.nan]]), [1])


# ------------------------------------------------------------------------------------------
# pass^k
# ------------------------------------------------------------------------------------------


def test_pass_hat_k_hand_values_and_brute_force():
    # n=5, c=2, k=2: C(2,2)/C(5,2) = 1/10
    assert pass_hat_k(5, 2, 2) == pytest.approx(0.1, abs=1e-15)
    # n=5, c=3, k=2: C(3,2)/C(5,2) = 3/10
    assert pass_hat_k(5, 3, 2) == pytest.approx(0.3, abs=1e-15)
    assert pass_hat_k(5, 1, 2) == 0.0  # c < k
    assert pass_hat_k(5, 2, 1) == pytest.approx(0.4)  # pass^1 = pass@1 = c/n
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                correct = [1] * c + [0] * (n - c)
                assert pass_hat_k(n, c, k) == pytest.approx(brute_pass_hat_k(correct, k), abs=1e-12)
    # large n: C(c,k)/C(n,k) with c = n-1 is (n-k)/n
    assert pass_hat_k(3000, 2999, 1500) == pytest.approx(0.5, abs=1e-12)


def test_pass_hat_k_curve_and_vector():
    correct = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1]])
    # item 0: c=3 -> 3/10; item 1: 1 -> mean 0.65
    assert pass_hat_k_curve(correct, [2])[2] == pytest.approx(0.65)
    np.testing.assert_allclose(pass_hat_k(5, np.array([3, 5]), 2), [0.3, 1.0])


# ------------------------------------------------------------------------------------------
# G-Pass@k_tau and mG-Pass@k
# ------------------------------------------------------------------------------------------


def test_g_pass_hand_value():
    # n=5, c=3, k=3, tau=0.5 -> at least ceil(1.5)=2 correct of 3:
    # [C(3,2)C(2,1) + C(3,3)C(2,0)] / C(5,3) = (6 + 1)/10 = 0.7
    assert g_pass_at_k(5, 3, 3, 0.5) == pytest.approx(0.7)


def test_g_pass_special_cases():
    for n in range(1, 10):
        for c in range(n + 1):
            for k in range(1, n + 1):
                # tau = 1: all k correct -> pass^k
                assert g_pass_at_k(n, c, k, 1.0) == pytest.approx(pass_hat_k(n, c, k), abs=1e-12)
                # tau <= 1/k (and tau = 0, per the authors' code) -> at least one -> pass@k
                for tau in (0.0, 1.0 / k, 0.5 / k):
                    assert g_pass_at_k(n, c, k, tau) == pytest.approx(
                        pass_at_k(n, c, k), abs=1e-12
                    )


def test_g_pass_matches_exact_sum_and_handles_float_ceil():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        c = int(rng.integers(0, n + 1))
        k = int(rng.integers(1, n + 1))
        tau = float(rng.choice([0.1, 0.25, 0.3, 0.5, 0.7, 0.75, 0.9, 1.0]))
        m = max(math.ceil(Fraction(str(tau)) * k), 1)  # exact ceil
        want = float(exact_g_pass(n, c, k, m))
        assert g_pass_at_k(n, c, k, tau) == pytest.approx(want, abs=1e-12)
    # 0.3 * 10 = 3.0000000000000004 in floats; the threshold must be 3, not 4
    assert g_pass_at_k(20, 10, 10, 0.3) == pytest.approx(float(exact_g_pass(20, 10, 10, 3)))
    assert g_pass_at_k(20, 10, 10, 0.7) == pytest.approx(float(exact_g_pass(20, 10, 10, 7)))
    # vectorized over items
    got = g_pass_at_k(8, np.array([0, 4, 8]), 4, 0.5)
    np.testing.assert_allclose(got, [0.0, float(exact_g_pass(8, 4, 4, 2)), 1.0], atol=1e-12)
    assert got[1] == pytest.approx(hypergeom.sf(1, 8, 4, 4))


def test_mg_pass_hand_value_and_integral():
    # n=5, c=3, k=4: X ~ Hyp(5, 3, 4): P(X=2) = C(3,2)C(2,2)/C(5,4) = 3/5, P(X=3) = 2/5.
    # mG-Pass@4 = (2/4) * [P(X>=3) + P(X>=4)] = 0.5 * (0.4 + 0) = 0.2
    assert mg_pass_at_k(5, 3, 4) == pytest.approx(0.2)
    assert mg_pass_at_k(5, 3, 1) == 0.0  # the published discrete sum is empty for k = 1
    # for even k the discrete sum equals 2 * integral_{0.5}^{1} G-Pass@k_tau dtau
    for n, c, k in [(16, 9, 8), (10, 4, 6), (12, 12, 4)]:
        # G-Pass@k_tau is a step function of tau (steps at i/k): midpoint rule on 240 cells
        taus = 0.5 + (np.arange(240) + 0.5) / 480
        integral = 2 * np.mean([g_pass_at_k(n, c, k, t) for t in taus]) * 0.5
        assert mg_pass_at_k(n, c, k) == pytest.approx(integral, abs=2e-3)
    np.testing.assert_allclose(mg_pass_at_k(6, np.array([0, 6]), 4), [0.0, 1.0])


def test_g_pass_errors():
    with pytest.raises(ValueError, match="tau must be in"):
        g_pass_at_k(5, 2, 2, 1.5)
    with pytest.raises(ValueError, match="tau must be a number"):
        g_pass_at_k(5, 2, 2, "half")
    with pytest.raises(ValueError, match="k = 9 exceeds"):
        mg_pass_at_k(5, 2, 9)


# ------------------------------------------------------------------------------------------
# maj@k
# ------------------------------------------------------------------------------------------


def test_maj_hand_values():
    ans = [["a", "b", "a", "c"]]
    # k=2 unbiased: 6 pairs: {a,b} tie 1/2, {a,a} 1, {a,c} 1/2, {b,a} 1/2, {b,c} 0, {a,c} 1/2
    # -> 3/6 = 0.5
    assert maj_at_k(ans, ["a"], 2) == pytest.approx(0.5)
    # k=2 first: [a, b] tie -> 'a' occurs first -> correct
    assert maj_at_k(ans, ["a"], 2, method="first") == 1.0
    assert maj_at_k(ans, ["b"], 2, method="first") == 0.0
    # None is never a candidate but uses a slot: [x, None, None], k=2:
    # {x,N} 1, {x,N} 1, {N,N} 0 -> 2/3
    assert maj_at_k([["x", None, None]], ["x"], 2) == pytest.approx(2 / 3)
    assert maj_at_k([["x", None, None]], ["x"], 2, method="first") == 1.0
    assert maj_at_k([[None, None, "x"]], ["x"], 2, method="first") == 0.0  # all None -> wrong
    # k = n with a 2-2 tie: first rule -> 'b' (occurs first) wins; unbiased -> 1/2
    assert maj_at_k([["b", "a", "a", "b"]], ["a"], 4, method="first") == 0.0
    assert maj_at_k([["b", "a", "a", "b"]], ["a"], 4) == pytest.approx(0.5)
    # gold never sampled -> 0; k=1 unbiased = fraction of samples equal to gold
    assert maj_at_k([["b", "c", None]], ["a"], 2) == 0.0
    assert maj_at_k([["a", "b", "a", None, "c"]], ["a"], 1) == pytest.approx(0.4)
    # per item and mean over ragged items
    per = maj_at_k([["a", "b", "a", "c"], ["x", None, None]], ["a", "x"], 2, per_item=True)
    np.testing.assert_allclose(per, [0.5, 2 / 3])
    assert maj_at_k([["a", "b", "a", "c"], ["x", None, None]], ["a", "x"], 2) == pytest.approx(
        (0.5 + 2 / 3) / 2
    )


@pytest.mark.parametrize("seed", range(6))
def test_maj_unbiased_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    vocab = ["a", "b", "c", "d", None]
    for _ in range(15):
        n = int(rng.integers(2, 10))
        probs = rng.dirichlet(np.ones(len(vocab)) * 0.7)
        ans = [vocab[i] for i in rng.choice(len(vocab), size=n, p=probs)]
        gold = str(rng.choice(["a", "b"]))
        got = maj_at_k([ans] * 1, [gold], 1, per_item=True)  # warm check of shape
        assert got.shape == (1,)
        for k in range(1, n + 1):
            assert maj_at_k([ans], [gold], k) == pytest.approx(
                brute_maj_unbiased(ans, gold, k), abs=1e-12
            ), (ans, gold, k)


def test_maj_unbiased_equals_first_averaged_over_orderings():
    # the uniform tie split equals the "first" rule averaged over all orderings of the samples
    rng = np.random.default_rng(7)
    for _ in range(8):
        ans = [["a", "b", "c", None][i] for i in rng.integers(0, 4, size=6)]
        for k in (2, 3, 4, 6):
            perms = list(itertools.permutations(ans))
            first_avg = np.mean([maj_at_k([list(p)], ["a"], k, method="first") for p in perms])
            assert maj_at_k([ans], ["a"], k) == pytest.approx(first_avg, abs=1e-12)


def test_maj_unbiased_large_n_exact_and_fast():
    # n = 40, k = 20: C(40, 20) = 1.4e11 subsets, too many to enumerate; compare with an
    # independent exact enumeration of draw-count vectors in integer arithmetic.
    gold_count, classes, n_none = 12, [11, 7, 5, 2], 3
    ans = ["g"] * gold_count + [None] * n_none
    for i, m in enumerate(classes):
        ans += [f"o{i}"] * m
    rng = np.random.default_rng(1)
    ans = [ans[i] for i in rng.permutation(len(ans))]
    for k in (1, 5, 19, 20, 33, 40):
        want = exact_maj_by_counts(classes, gold_count, n_none, k)
        assert maj_at_k([ans], ["g"], k) == pytest.approx(float(want), abs=1e-12)
    # scaling: 128 samples over 40 distinct answers, k = 64, 20 items in well under a second
    big = [[f"a{int(x)}" for x in rng.zipf(1.6, size=128) % 40] for _ in range(20)]
    t0 = time.perf_counter()
    vals = maj_at_k(big, ["a1"] * 20, 64, per_item=True)
    assert time.perf_counter() - t0 < 2.0
    assert np.all((vals >= 0) & (vals <= 1))


@pytest.mark.parametrize(
    ("answers", "gold", "k", "kwargs", "match"),
    [
        ([["a"]], ["a", "b"], 1, {}, "answers has 1 items but gold has 2"),
        ([], [], 1, {}, "answers must not be empty"),
        ([["a", "b"]], ["a"], 3, {}, r"k = 3 exceeds the 2 samples of answers\[0\]"),
        ([["a", 3]], ["a"], 1, {}, r"answers\[0\]\[1\] must be a str or None"),
        ([["a"]], [None], 1, {}, r"gold\[0\] must be a str"),
        ([["a"]], ["a"], 1, {"method": "mode"}, "method must be"),
        ([["a"]], ["a"], 0, {}, "k must be >= 1"),
        (["ab"], ["a"], 1, {}, r"answers\[0\] must be a list"),
    ],
)
def test_maj_errors(answers, gold, k, kwargs, match):
    with pytest.raises(ValueError, match=match):
        maj_at_k(answers, gold, k, **kwargs)


def test_maj_accepts_numpy_arrays():
    arr = np.array([["a", "b", "a", "c"], ["x", "x", "y", "y"]], dtype=object)
    arr[1, 3] = None
    want = maj_at_k([["a", "b", "a", "c"], ["x", "x", "y", None]], ["a", "x"], 3, per_item=True)
    got = maj_at_k(arr, np.array(["a", "x"]), 3, per_item=True)
    np.testing.assert_allclose(got, want)
    got_rows = maj_at_k([np.array(["a", "b", "a", "c"])], ["a"], 2, method="first")
    assert got_rows == 1.0
