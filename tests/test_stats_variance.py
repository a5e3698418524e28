"""Tests of goodbadgreedy.stats.variance.decompose_variance."""

from __future__ import annotations

import numpy as np
import pytest

from goodbadgreedy.stats.variance import VarianceDecomposition, decompose_variance


def test_hand_example():
    x = np.array([[1, 1, 1, 1], [0, 0, 0, 0], [1, 0, 1, 0]])
    v = decompose_variance(x)
    assert isinstance(v, VarianceDecomposition)
    assert (v.n_items, v.n_samples) == (3, 4)
    # item means (1, 0, 0.5); grand mean 6/12 = 0.5
    np.testing.assert_allclose(v.item_means, [1.0, 0.0, 0.5])
    assert v.grand_mean == pytest.approx(0.5)
    # per-item ddof=1 variance: item 3 has (4 * 0.25)/3 = 1/3 (= K/(K-1) * p(1-p))
    np.testing.assert_allclose(v.item_vars, [0.0, 0.0, 1 / 3])
    # total (ddof=0) = 0.25; within = mean(0, 0, 0.25) = 1/12; between = var(1, 0, .5) = 1/6
    assert v.total_var == pytest.approx(0.25)
    assert v.within_var == pytest.approx(1 / 12)
    assert v.between_var == pytest.approx(1 / 6)
    assert v.within_fraction == pytest.approx(1 / 3)
    # runs (columns): 2/3, 1/3, 2/3, 1/3 -> ddof=1 variance (4 * (1/6)^2)/3 = 1/27
    np.testing.assert_allclose(v.run_means, [2 / 3, 1 / 3, 2 / 3, 1 / 3])
    assert v.run_var_empirical == pytest.approx(1 / 27)
    # implied: mean(item_vars)/n = (1/9)/3 = 1/27 (equal here: no cross-item covariance)
    assert v.run_var_implied == pytest.approx(1 / 27)
    assert v.run_sd_implied == pytest.approx(np.sqrt(1 / 27))
    # item difficulty: var(item means, ddof=1) - mean(item_vars)/K = 0.25 - (1/9)/4 = 2/9
    assert v.item_difficulty_var == pytest.approx(2 / 9)
    assert v.score_var_items == pytest.approx(2 / 27)


def test_law_of_total_variance_identity_and_bernoulli():
    rng = np.random.default_rng(0)
    x = (rng.random((50, 7)) < rng.random((50, 1))).astype(float)
    v = decompose_variance(x)
    assert v.total_var == pytest.approx(v.within_var + v.between_var, abs=1e-14)
    p = x.mean(axis=1)
    assert v.within_var == pytest.approx(np.mean(p * (1 - p)))  # Bernoulli noise
    np.testing.assert_allclose(v.item_vars, p * (1 - p) * 7 / 6)
    # real-valued scores too
    y = rng.normal(size=(20, 5))
    w = decompose_variance(y)
    assert w.total_var == pytest.approx(w.within_var + w.between_var)


def test_implied_run_variance_matches_simulation():
    # the variance of run scores over many re-runs on the same items equals
    # mean(sigma_i^2)/n_items; check both estimators against the truth
    rng = np.random.default_rng(1)
    n, k = 300, 400
    mu = rng.beta(0.7, 0.7, size=(n, 1))
    x = (rng.random((n, k)) < mu).astype(float)
    v = decompose_variance(x)
    truth = float(np.mean(mu * (1 - mu)) / n)
    assert v.run_var_implied == pytest.approx(truth, rel=0.05)
    assert v.run_var_empirical == pytest.approx(truth, rel=0.25)  # K-1 = 399 df: ~7% sd
    # the between-item spread, net of noise, recovers the spread of the true item means
    # (Beta(0.7, 0.7): Var(mu) = 0.49/(1.96 * 2.4) = 0.104, E[mu(1-mu)] = 0.25 - 0.104 = 0.146)
    assert v.item_difficulty_var == pytest.approx(float(mu.var(ddof=1)), rel=0.05)
    assert v.within_var == pytest.approx(float(np.mean(mu * (1 - mu))), rel=0.05)
    assert v.within_fraction == pytest.approx(0.146 / 0.25, abs=0.05)


def test_constant_scores():
    v = decompose_variance(np.ones((3, 4)))
    assert v.total_var == 0.0 and np.isnan(v.within_fraction)
    assert v.run_var_implied == 0.0 and v.run_var_empirical == 0.0


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.zeros((3, 1)), "at least 2 samples"),
        (np.zeros((1, 3)), "at least 2 items"),
        (np.zeros(4), "scores must be 2-D"),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), "scores contains NaN"),
        (np.array([["a", "b"], ["c", "d"]]), "numeric or boolean"),
    ],
)
def test_errors(x, match):
    with pytest.raises(ValueError, match=match):
        decompose_variance(x)
