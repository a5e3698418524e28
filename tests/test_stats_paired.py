"""Tests of goodbadgreedy.stats.paired: McNemar's test and the paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, chi2

from goodbadgreedy.stats.paired import mcnemar, paired_bootstrap


def table_to_pairs(n11: int, n10: int, n01: int, n00: int) -> tuple[np.ndarray, np.ndarray]:
    """Expand a 2x2 paired table (a = row, b = column) into per-item outcome vectors."""
    a = np.r_[np.ones(n11 + n10), np.zeros(n01 + n00)].astype(bool)
    b = np.r_[np.ones(n11), np.zeros(n10), np.ones(n01), np.zeros(n00)].astype(bool)
    return a, b


# ------------------------------------------------------------------------------------------
# McNemar
# ------------------------------------------------------------------------------------------


def test_mcnemar_agresti_approval_example():
    # Agresti, Categorical Data Analysis (2nd ed. 2002), Sec. 10.1: approval of the same 1600
    # people in two surveys; rows = first survey (approve, disapprove), columns = second:
    # 794, 150 / 86, 570. a = first survey, b = second survey.
    a, b = table_to_pairs(794, 150, 86, 570)
    r = mcnemar(a, b)
    assert (r.b10, r.b01, r.n) == (150, 86, 1600)
    # z = (86 - 150)/sqrt(86 + 150) = -4.17, z^2 = 4096/236 = 17.36
    assert r.statistic == pytest.approx(4096 / 236)
    assert round(r.statistic, 2) == 17.36
    assert r.method == "chi2"  # 236 discordant pairs >= 25
    assert r.p_value == pytest.approx(chi2.sf(4096 / 236, 1))
    assert r.p_value < 1e-4
    # diff = 944/1600 - 880/1600 = 0.59 - 0.55 = 0.04
    # SE = sqrt(236 - 64^2/1600)/1600 = sqrt(233.44)/1600 = 0.00955
    assert r.diff == pytest.approx(0.04)
    se = np.sqrt(236 - 64**2 / 1600) / 1600
    assert se == pytest.approx(0.00955, abs=1e-5)
    # Agresti: -0.04 -/+ 1.96 (0.0095) = (-0.06, -0.02) for second minus first
    assert (round(-r.hi, 2), round(-r.lo, 2)) == (-0.06, -0.02)
    assert r.lo == pytest.approx(0.04 - 1.959963985 * se)
    # continuity corrected: (|150 - 86| - 1)^2 / 236 = 63^2/236 = 16.82
    rc = mcnemar(a, b, correction=True)
    assert rc.statistic == pytest.approx(63**2 / 236)
    assert rc.method == "chi2-cc"
    assert rc.p_value == pytest.approx(chi2.sf(63**2 / 236, 1))
    # forcing the exact test: binomial(150; 236, 1/2), two-sided
    re_ = mcnemar(a, b, exact=True)
    assert re_.p_value == pytest.approx(binomtest(150, 236, 0.5).pvalue)


def test_mcnemar_exact_hand_value():
    # b10 = 1, b01 = 9: P(X <= 1 | Bin(10, 1/2)) = (1 + 10)/1024; two-sided = 22/1024
    a, b = table_to_pairs(20, 1, 9, 30)
    r = mcnemar(a, b)
    assert r.method == "exact"  # 10 discordant < 25
    assert r.p_value == pytest.approx(22 / 1024)
    assert r.statistic == pytest.approx((1 - 9) ** 2 / 10)  # chi-square still reported
    assert r.diff == pytest.approx((1 - 9) / 60)


def test_mcnemar_against_scipy_random():
    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(5, 200))
        a = rng.random(n) < 0.6
        b = np.where(rng.random(n) < 0.7, a, ~a)
        b10 = int(np.sum(a & ~b))
        b01 = int(np.sum(~a & b))
        d = b10 + b01
        r = mcnemar(a, b)
        if d == 0:
            assert r.p_value == 1.0 and r.statistic == 0.0
            continue
        if d < 25:
            assert r.method == "exact"
            assert r.p_value == pytest.approx(binomtest(b10, d, 0.5).pvalue)
        else:
            assert r.method == "chi2"
            assert r.p_value == pytest.approx(chi2.sf((b10 - b01) ** 2 / d, 1))
        assert mcnemar(a, b, exact=False).p_value == pytest.approx(
            chi2.sf((b10 - b01) ** 2 / d, 1)
        )
        # swapping the systems flips the difference and keeps the p-value
        s = mcnemar(b, a)
        assert s.diff == pytest.approx(-r.diff) and s.p_value == pytest.approx(r.p_value)
        assert (s.b10, s.b01) == (b01, b10)


def test_mcnemar_degenerate_and_ints():
    r = mcnemar([1, 0, 1], [1, 0, 1])
    assert (r.diff, r.lo, r.hi, r.p_value, r.statistic) == (0.0, 0.0, 0.0, 1.0, 0.0)
    r = mcnemar(np.ones(5, dtype=int), np.zeros(5, dtype=int))
    assert r.diff == 1.0 and r.hi <= 1.0
    assert r.p_value == pytest.approx(2 / 32)  # exact, b10 = 5, b01 = 0


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "match"),
    [
        ([1, 0], [1, 0, 1], {}, "same length"),
        ([1, 0.5], [1, 0], {}, "a must be binary"),
        ([[1, 0]], [[1, 0]], {}, "a must be 1-D"),
        ([], [], {}, "a must be non-empty"),
        ([1, 0], [1, 0], {"exact": "yes"}, "exact must be None, True or False"),
        ([1, 0], [1, 0], {"confidence": 2}, "confidence"),
    ],
)
def test_mcnemar_errors(a, b, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mcnemar(a, b, **kwargs)


# ------------------------------------------------------------------------------------------
# paired bootstrap
# ------------------------------------------------------------------------------------------


def test_paired_bootstrap_reproducible_and_shapes():
    rng = np.random.default_rng(1)
    a = rng.random((80, 4))
    b = rng.random((80, 6))  # the systems may have different sample counts
    r1 = paired_bootstrap(a, b, n_boot=500, seed=3)
    r2 = paired_bootstrap(a, b, n_boot=500, seed=3)
    assert r1 == r2
    assert r1 != paired_bootstrap(a, b, n_boot=500, seed=4)
    assert r1.diff == pytest.approx(a.mean(1).mean() - b.mean(1).mean())
    assert r1.lo <= r1.diff <= r1.hi
    assert r1.n_items == 80 and r1.p_method == "signflip"
    # 2-D input = its row means as 1-D input
    r3 = paired_bootstrap(a.mean(1), b.mean(1), n_boot=500, seed=3)
    assert r3 == r1
    # the CI does not depend on the p-value method (separate random streams)
    r4 = paired_bootstrap(a, b, n_boot=500, seed=3, p_method="shift")
    assert (r4.lo, r4.hi, r4.se) == (r1.lo, r1.hi, r1.se)
    # se ~ sd(d)/sqrt(n)
    d = a.mean(1) - b.mean(1)
    assert r1.se == pytest.approx(d.std(ddof=1) / np.sqrt(80), rel=0.15)


def test_signflip_p_value_small_example():
    # d = (1, 1, 1): of the 8 sign patterns only (+,+,+) and (-,-,-) reach |mean| = 1,
    # so the randomization p-value is 2/8 = 0.25
    r = paired_bootstrap([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], n_boot=20000, seed=0)
    assert r.p_value == pytest.approx(0.25, abs=0.012)
    # the shifted bootstrap has no spread at all here: p = 1/(B + 1)
    s = paired_bootstrap([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], n_boot=99, seed=0, p_method="shift")
    assert s.p_value == pytest.approx(1 / 100)
    # no difference at all -> p = 1
    z = paired_bootstrap([0.3, 0.5, 0.9], [0.3, 0.5, 0.9], n_boot=200, seed=0)
    assert z.p_value == 1.0 and z.diff == 0.0


def test_paired_bootstrap_power_and_null_calibration():
    rng = np.random.default_rng(5)
    # strong effect: p tiny for both methods
    a = (rng.random((150, 4)) < 0.7).astype(float)
    b = (rng.random((150, 4)) < 0.5).astype(float)
    for method in ("signflip", "shift"):
        assert paired_bootstrap(a, b, n_boot=999, seed=1, p_method=method).p_value <= 0.002
    # under H0 (a and b exchangeable) the sign-flip test rejects about 5% of the time
    rejections = 0
    reps = 200
    for rep in range(reps):
        mu = rng.random((60, 1))
        a0 = (rng.random((60, 3)) < mu).astype(float)
        b0 = (rng.random((60, 3)) < mu).astype(float)
        rejections += paired_bootstrap(a0, b0, n_boot=199, seed=rep).p_value <= 0.05
    assert 0.01 <= rejections / reps <= 0.10


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "match"),
    [
        (np.zeros(3), np.zeros(4), {}, "same number of items"),
        (np.zeros(1), np.zeros(1), {}, "at least 2 items"),
        (np.zeros(3), np.zeros(3), {"p_method": "perm"}, "p_method must be"),
        (np.zeros(3), np.zeros(3), {"n_boot": 0}, "n_boot must be >= 2"),
        (np.zeros(3), np.array([0.0, np.nan, 1.0]), {}, "b_scores contains NaN"),
        (np.zeros((3, 1, 1)), np.zeros(3), {}, "a_scores must be 1-D or 2-D"),
    ],
)
def test_paired_bootstrap_errors(a, b, kwargs, match):
    with pytest.raises(ValueError, match=match):
        paired_bootstrap(a, b, **kwargs)
