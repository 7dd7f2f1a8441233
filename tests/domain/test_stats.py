"""domain.stats against scipy.stats (a test-only dependency), plus statistical honesty."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actorserve.domain.stats import (
    RunningStats,
    Summary,
    chi2_sf,
    compare_means,
    compare_rates,
    mean_interval,
    sample_ratio_mismatch,
    t_cdf,
    t_ppf,
    two_proportion_z_test,
    welch_t_test,
    wilson_interval,
)

scipy_stats = pytest.importorskip("scipy.stats")
np = pytest.importorskip("numpy")

# scipy warns on degenerate samples (zero variance); the comparison still holds
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@given(st.floats(-40, 40), st.floats(1, 500))
def test_t_cdf_matches_scipy(t: float, df: float) -> None:
    # abs 1e-8: for |t| below ~1e-8 scipy rounds to 0.5, while 0.5 + atan(t)/pi (df=1) is a few 1e-9 above
    assert t_cdf(t, df) == pytest.approx(scipy_stats.t.cdf(t, df), abs=1e-8)


def test_t_cdf_keeps_precision_near_zero() -> None:
    import math

    t = 6.964378659347381e-09  # found by hypothesis: scipy answers 0.5 here
    assert t_cdf(t, 1.0) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-15)


@given(st.floats(0.001, 0.999), st.floats(1, 300))
def test_t_ppf_matches_scipy(p: float, df: float) -> None:
    assert t_ppf(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-6, abs=1e-6)


@given(st.floats(0.0, 200.0), st.integers(1, 30))
def test_chi2_sf_matches_scipy(x: float, df: int) -> None:
    assert chi2_sf(x, df) == pytest.approx(scipy_stats.chi2.sf(x, df), abs=1e-9)


def samples(draw: st.DrawFn) -> list[float]:
    return draw(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=60))


@settings(max_examples=150)
@given(st.data())
def test_welch_t_test_matches_scipy(data: st.DataObject) -> None:
    a = data.draw(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=60))
    b = data.draw(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=60))
    sa, sb = summarise(a), summarise(b)
    if sa.variance + sb.variance < 1e-9:
        return
    ours = welch_t_test(sa, sb)
    ref = scipy_stats.ttest_ind(b, a, equal_var=False)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-6, abs=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, abs=1e-7)


def summarise(values: list[float]) -> Summary:
    rs = RunningStats()
    for v in values:
        rs.add(v)
    return rs.summary()


def test_running_stats_match_the_textbook_formulas() -> None:
    rng = random.Random(1)
    values = [rng.gauss(10, 3) for _ in range(1000)]
    s = summarise(values)
    mean = sum(values) / len(values)
    assert s.mean == pytest.approx(mean)
    assert s.variance == pytest.approx(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


@given(st.integers(0, 500), st.integers(1, 500), st.integers(0, 500), st.integers(1, 500))
def test_two_proportion_z_test_matches_the_pooled_formula(xa: int, na: int, xb: int, nb: int) -> None:
    xa, xb = min(xa, na), min(xb, nb)
    ours = two_proportion_z_test(xa, na, xb, nb)
    pooled = (xa + xb) / (na + nb)
    se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    if se == 0:
        assert ours.p_value == 1.0
        return
    z = (xb / nb - xa / na) / se
    assert ours.statistic == pytest.approx(z)
    assert ours.p_value == pytest.approx(2 * scipy_stats.norm.sf(abs(z)), abs=1e-9)


def test_mean_interval_matches_scipy() -> None:
    rng = random.Random(2)
    values = [rng.gauss(5, 2) for _ in range(40)]
    s = summarise(values)
    lo, hi = mean_interval(s, 0.95)
    ref = scipy_stats.t.interval(0.95, len(values) - 1, loc=s.mean, scale=float(scipy_stats.sem(values)))
    assert (lo, hi) == pytest.approx(ref, rel=1e-6)


def test_wilson_interval_matches_statsmodels_formula() -> None:
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4901624, abs=1e-6)
    assert hi == pytest.approx(0.9433178, abs=1e-6)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_sample_ratio_mismatch_matches_scipy_chisquare() -> None:
    ours = sample_ratio_mismatch([5200, 4800], [50, 50])
    ref = scipy_stats.chisquare([5200, 4800], [5000, 5000])
    assert ours.statistic == pytest.approx(ref.statistic)
    assert ours.p_value == pytest.approx(ref.pvalue)
    assert sample_ratio_mismatch([0, 0], [1, 1]).p_value == 1.0


def test_comparisons_report_intervals_lift_and_significance() -> None:
    rates = compare_rates("error_rate", 50, 1000, 150, 1000)
    assert rates.significant
    assert rates.difference == pytest.approx(0.1)
    assert rates.relative_lift == pytest.approx(2.0)
    assert rates.difference_interval[0] < 0.1 < rates.difference_interval[1]
    means = compare_means("latency", Summary(100, 10.0, 4.0), Summary(100, 10.1, 4.0))
    assert not means.significant
    assert set(means.as_dict()) >= {"metric", "a", "b", "difference", "p_value", "significant", "relative_lift"}


def test_tiny_samples_never_claim_significance() -> None:
    assert not compare_means("latency", Summary(1, 5.0, 0.0), Summary(1, 9.0, 0.0)).significant
    assert not compare_rates("error_rate", 0, 0, 1, 1).significant
