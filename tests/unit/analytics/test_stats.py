"""Statistics checked against scipy and statsmodels, and the sequential test by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from promptship.analytics import stats


def moments(x: np.ndarray) -> stats.Moments:
    return stats.Moments(len(x), float(x.sum()), float((x * x).sum()))


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (512, 1000), (1, 3)])
def test_wilson_equals_statsmodels(k: int, n: int) -> None:
    got = stats.wilson(k, n)
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert got.low == pytest.approx(low, abs=1e-12)
    assert got.high == pytest.approx(high, abs=1e-12)


def test_mean_and_difference_intervals_equal_statsmodels() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(6, 0.5, 400), rng.lognormal(6.1, 0.7, 350)
    got = stats.mean_interval(moments(a))
    assert (got.low, got.high) == pytest.approx(DescrStatsW(a).zconfint_mean(alpha=0.05), rel=1e-9)
    diff = stats.diff_interval(moments(b), moments(a))
    want = CompareMeans(DescrStatsW(b), DescrStatsW(a)).zconfint_diff(alpha=0.05, usevar="unequal")
    assert (diff.low, diff.high) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("df", [1, 2, 3, 7, 30])
@pytest.mark.parametrize("x", [0.01, 0.5, 2.0, 9.0, 40.0, 120.0])
def test_chi2_survival_equals_scipy(df: int, x: float) -> None:
    assert stats.chi2_sf(x, df) == pytest.approx(sps.chi2.sf(x, df), rel=1e-9, abs=1e-300)


def test_srm_equals_scipy_and_flags_a_skewed_split() -> None:
    observed = {"base": 5210, "concise": 2395, "warm": 2395}
    weights = {"base": 50.0, "concise": 25.0, "warm": 25.0}
    got = stats.srm(observed, weights)
    want = sps.chisquare([5210, 2395, 2395], [5000, 2500, 2500])
    assert got.chi2 == pytest.approx(want.statistic)
    assert got.p_value == pytest.approx(want.pvalue, rel=1e-9)
    assert got.mismatch  # 52/24/24 against 50/25/25 over 10,000 units
    fair = stats.srm({"base": 5030, "concise": 2490, "warm": 2480}, weights)
    assert not fair.mismatch
    assert stats.srm({"base": 10, "gone": 1}, {"base": 100.0, "gone": 0.0}).mismatch


def _simulate(p_base: float, p_arm: float, per_day: int, days: int, sims: int, seed: int):  # type: ignore[no-untyped-def]
    """Cumulative successes per arm after each day, for ``sims`` experiments at once."""
    rng = np.random.default_rng(seed)
    base = rng.binomial(per_day, p_base, (sims, days)).cumsum(axis=1)
    arm = rng.binomial(per_day, p_arm, (sims, days)).cumsum(axis=1)
    n = per_day * np.arange(1, days + 1)
    return base, arm, n


def _rejects(base: np.ndarray, arm: np.ndarray, n: np.ndarray, tau: float) -> np.ndarray:
    out = np.zeros(base.shape[0], dtype=bool)
    for i in range(base.shape[0]):
        looks = [
            (stats.Moments(int(k), float(a), float(a)), stats.Moments(int(k), float(b), float(b)))
            for a, b, k in zip(arm[i], base[i], n, strict=True)
        ]
        out[i] = stats.msprt(looks, tau=tau).significant
    return out


def test_msprt_false_positives_stay_under_alpha_across_daily_peeks() -> None:
    sims, days = 600, 30
    base, arm, n = _simulate(0.3, 0.3, 200, days, sims, seed=11)
    rate = _rejects(base, arm, n, tau=0.05).mean()
    assert rate <= 0.05 + 3 * (0.05 * 0.95 / sims) ** 0.5
    # a fixed-horizon z test read every day would reject far more often
    pa, pb = arm / n, base / n
    se = np.sqrt(pa * (1 - pa) / n + pb * (1 - pb) / n)
    naive = (np.abs(pa - pb) / se > stats.Z95).any(axis=1).mean()
    assert naive > 2 * 0.05


def test_msprt_detects_a_known_effect_at_the_stated_power() -> None:
    # docs/analytics.md: +3 points on a 20% base, 500 units per arm per day, 30 days: power >= 0.8
    sims = 300
    base, arm, n = _simulate(0.20, 0.23, 500, 30, sims, seed=5)
    assert _rejects(base, arm, n, tau=0.05).mean() >= 0.8
