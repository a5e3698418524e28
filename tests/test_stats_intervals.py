"""Tests of goodbadgreedy.stats.intervals: Wilson interval, cluster bootstrap, clustered SE."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from goodbadgreedy.stats.intervals import cluster_bootstrap, clustered_se, wilson_interval

# ------------------------------------------------------------------------------------------
# Wilson
# ------------------------------------------------------------------------------------------

#: Newcombe 1998, "Two-sided confidence intervals for the single proportion: comparison of seven
#: methods", Stat. Med. 17:857-872, Table I, method 3 (Wilson score interval without continuity
#: correction), 95% intervals as printed there (4 decimals). Each was re-derived by hand from
#: center = (p + z^2/2n)/(1 + z^2/n), half = z/(1 + z^2/n) sqrt(p(1-p)/n + z^2/4n^2), z = 1.96;
#: e.g. 81/263: p = 0.30798, center = 0.31075, half = 0.05546 -> (0.2553, 0.3662).
NEWCOMBE_TABLE_I_METHOD_3 = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("x", "n", "lo", "hi"), NEWCOMBE_TABLE_I_METHOD_3)
def test_wilson_newcombe_table_i(x, n, lo, hi):
    got_lo, got_hi = wilson_interval(x, n)
    assert round(got_lo, 4) == pytest.approx(lo, abs=1e-12)
    assert round(got_hi, 4) == pytest.approx(hi, abs=1e-12)
    assert isinstance(got_lo, float) and isinstance(got_hi, float)


def test_wilson_matches_scipy_and_is_vectorized():
    rng = np.random.default_rng(0)
    for conf in (0.8, 0.9, 0.95, 0.99):
        for _ in range(30):
            n = int(rng.integers(1, 500))
            x = int(rng.integers(0, n + 1))
            ci = binomtest(x, n).proportion_ci(confidence_level=conf, method="wilson")
            lo, hi = wilson_interval(x, n, confidence=conf)
            assert lo == pytest.approx(ci.low, abs=1e-12)
            assert hi == pytest.approx(ci.high, abs=1e-12)
    lo, hi = wilson_interval(np.array([0, 5, 10]), 10)
    assert lo.shape == hi.shape == (3,)
    assert lo[0] == 0.0 and hi[2] == 1.0
    assert np.all(lo <= np.array([0, 0.5, 1.0])) and np.all(hi >= np.array([0, 0.5, 1.0]))
    # symmetric: the interval of x/n mirrors that of (n-x)/n
    lo_a, hi_a = wilson_interval(3, 17)
    lo_b, hi_b = wilson_interval(14, 17)
    assert lo_a == pytest.approx(1 - hi_b) and hi_a == pytest.approx(1 - lo_b)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((5, 4), r"successes must lie in \[0, n\]"),
        ((-1, 4), r"successes must lie in \[0, n\]"),
        ((1, 0), "n must be >= 1"),
        ((1.5, 4), "successes must hold integer counts"),
        ((1, 4, 1.0), r"confidence must be in \(0, 1\)"),
        ((1, 4, "high"), "confidence must be a number"),
    ],
)
def test_wilson_errors(args, match):
    with pytest.raises(ValueError, match=match):
        wilson_interval(*args)


# ------------------------------------------------------------------------------------------
# cluster bootstrap
# ------------------------------------------------------------------------------------------


def _scores(seed: int, n_items: int = 200, k: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.beta(1.0, 1.0, size=(n_items, 1))
    return (rng.random((n_items, k)) < p).astype(float)


def test_cluster_bootstrap_reproducible_and_sane():
    x = _scores(0)
    a = cluster_bootstrap(x, n_boot=1000, seed=42)
    b = cluster_bootstrap(x, n_boot=1000, seed=42)
    c = cluster_bootstrap(x, n_boot=1000, seed=43)
    assert a == b  # same seed, identical result
    assert a != c
    assert a.estimate == pytest.approx(x.mean())
    assert a.lo < a.estimate < a.hi
    # bootstrap se of the mean of item means ~ sd(item means)/sqrt(n) (within MC error)
    assert a.se == pytest.approx(clustered_se(x).se, rel=0.1)
    est, lo, hi, se = a  # unpacks as a tuple
    assert (est, lo, hi, se) == tuple(a)


def test_cluster_bootstrap_resamples_whole_items():
    x = _scores(1, n_items=50, k=4)
    # with the same seed the same item indices are drawn, so the matrix bootstrap of the mean
    # equals the bootstrap of the item means: the samples of an item always move together
    whole = cluster_bootstrap(x, n_boot=500, seed=7)
    means = cluster_bootstrap(x.mean(axis=1), n_boot=500, seed=7)
    assert whole.lo == pytest.approx(means.lo) and whole.hi == pytest.approx(means.hi)
    assert whole.se == pytest.approx(means.se)
    # the generic path (any callable) sees full (n_items, n_samples) matrices and gives the
    # same replicates as the np.mean fast path
    shapes = set()

    def mean_stat(a):
        shapes.add(a.shape)
        return float(np.mean(a))

    generic = cluster_bootstrap(x, mean_stat, n_boot=500, seed=7)
    assert shapes == {(50, 4)}
    assert generic.lo == pytest.approx(whole.lo) and generic.se == pytest.approx(whole.se)
    # a different statistic: median of item means, in [0, 1]
    med = cluster_bootstrap(x, lambda a: np.median(a.mean(axis=1)), n_boot=300, seed=0)
    assert 0.0 <= med.lo <= med.estimate <= med.hi <= 1.0


def test_cluster_bootstrap_wider_than_naive_when_items_differ():
    # items of very different difficulty, 10 samples each: the clustered spread must exceed
    # the spread of a bootstrap that treats all 2000 samples as independent
    x = _scores(2, n_items=200, k=10)
    clus = cluster_bootstrap(x, n_boot=800, seed=1)
    naive = cluster_bootstrap(x.reshape(-1), n_boot=800, seed=1)
    assert clus.se > 1.5 * naive.se


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scores": np.zeros((1, 3))}, "at least 2 items"),
        ({"scores": np.zeros((2, 2, 2))}, "scores must be 1-D or 2-D"),
        ({"scores": np.array([[0.0, np.inf], [1, 1]])}, "scores contains inf"),
        ({"scores": np.zeros((3, 2)), "n_boot": 1}, "n_boot must be >= 2"),
        ({"scores": np.zeros((3, 2)), "seed": -1}, "seed must be >= 0"),
        ({"scores": np.zeros((3, 2)), "seed": 1.5}, "seed must be an integer"),
        ({"scores": np.zeros((3, 2)), "confidence": 0}, "confidence must be in"),
        ({"scores": np.zeros((3, 2)), "statistic": 3}, "statistic must be callable"),
        ({"scores": np.zeros((3, 2)), "statistic": lambda a: a.mean(0)}, "finite scalar"),
    ],
)
def test_cluster_bootstrap_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cluster_bootstrap(**kwargs)


# ------------------------------------------------------------------------------------------
# clustered SE
# ------------------------------------------------------------------------------------------


def test_clustered_se_hand_example():
    x = np.array([[1, 1], [0, 0], [1, 0]])
    # item means (1, 0, 0.5), mean 0.5; sample variance of item means
    # = (0.25 + 0.25 + 0)/2 = 0.25; SE = sqrt(0.25/3) = 0.288675
    r = clustered_se(x)
    assert r.estimate == pytest.approx(0.5)
    assert r.se == pytest.approx(np.sqrt(0.25 / 3))
    # 95%: z = 1.959964 -> 0.5 -/+ 0.565793
    assert r.lo == pytest.approx(0.5 - 1.959963985 * np.sqrt(0.25 / 3))
    assert r.hi == pytest.approx(0.5 + 1.959963985 * np.sqrt(0.25 / 3))
    # naive: the 6 scores (1,1,0,0,1,0) have sample variance 6*0.25/5 = 0.3 -> sqrt(0.3/6)
    assert r.naive_se == pytest.approx(np.sqrt(0.3 / 6))
    assert (r.n_items, r.n_samples) == (3, 2)


def test_clustered_se_equals_sandwich_up_to_small_sample_factor():
    x = _scores(3, n_items=40, k=6)
    n, k = x.shape
    xbar = x.mean()
    # cluster-robust (sandwich) variance of the grand mean: sum over clusters of the squared
    # within-cluster sums of residuals, divided by (n k)^2
    sandwich = np.sum(((x - xbar).sum(axis=1)) ** 2) / (n * k) ** 2
    assert clustered_se(x).se == pytest.approx(np.sqrt(sandwich * n / (n - 1)))


def test_clustered_se_is_calibrated_in_simulation():
    # super-population model: mu_i ~ Beta(2, 2), K Bernoulli(mu_i) samples per item.
    # Over many simulated benchmarks the spread of the estimate should match the mean SE.
    rng = np.random.default_rng(4)
    n, k, reps = 100, 4, 1500
    mu = rng.beta(2, 2, size=(reps, n, 1))
    s = (rng.random((reps, n, k)) < mu).astype(float)
    item_means = s.mean(axis=2)
    est = item_means.mean(axis=1)
    se = np.sqrt(item_means.var(axis=1, ddof=1) / n)
    assert np.sqrt(np.mean(se**2)) == pytest.approx(est.std(ddof=1), rel=0.08)
    # spot-check the function on one replicate
    assert clustered_se(s[0]).se == pytest.approx(se[0])
    # 1-D input = one sample per item
    assert clustered_se(s[0][:, 0]).se == pytest.approx(s[0][:, 0].std(ddof=1) / np.sqrt(n))


def test_clustered_se_errors():
    with pytest.raises(ValueError, match="at least 2 items"):
        clustered_se(np.zeros((1, 5)))
    with pytest.raises(ValueError, match="scores contains NaN"):
        clustered_se(np.array([[np.nan, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="confidence"):
        clustered_se(np.zeros((3, 2)), confidence=95)
