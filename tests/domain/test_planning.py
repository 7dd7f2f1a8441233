"""domain.planning: the closed forms, their power by scipy, and the inverse."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorserve.domain.planning import minimum_detectable_effect, required_sample_size

norm = pytest.importorskip("scipy.stats").norm


def rate_power(n: int, p1: float, p2: float, alpha: float = 0.05) -> float:
    """Power of the pooled two-proportion z-test at n per arm, both tails (normal approximation)."""
    pbar = (p1 + p2) / 2
    se0 = math.sqrt(2 * pbar * (1 - pbar) / n)
    se1 = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    z = norm.ppf(1 - alpha / 2)
    d = abs(p2 - p1)
    return float(norm.cdf((d - z * se0) / se1) + norm.cdf((-d - z * se0) / se1))


def closed_form_rate(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> float:
    pbar = (p1 + p2) / 2
    za, zb = norm.ppf(1 - alpha / 2), norm.ppf(power)
    root = za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return float(root**2 / (p2 - p1) ** 2)


CASES = [(0.05, 0.03), (0.1, 0.01), (0.5, 0.05), (0.2, -0.05), (0.3, 0.1)]


@pytest.mark.parametrize(("baseline", "mde"), CASES)
def test_the_rate_sample_size_is_the_closed_form_rounded_up(baseline: float, mde: float) -> None:
    n = required_sample_size(baseline, mde)
    assert n == math.ceil(closed_form_rate(baseline, baseline + mde))


@pytest.mark.parametrize(("baseline", "mde"), CASES)
def test_the_rate_sample_size_reaches_the_power_and_one_less_does_not(baseline: float, mde: float) -> None:
    n = required_sample_size(baseline, mde)
    assert rate_power(n, baseline, baseline + mde) >= 0.8
    assert rate_power(n - 1, baseline, baseline + mde) < 0.8 + 1e-6


@pytest.mark.parametrize(("baseline", "mde"), [(0.05, 0.03), (0.1, 0.01), (0.5, 0.05), (0.3, 0.1)])
def test_the_rate_sample_size_is_close_to_the_arcsine_power_calculation(baseline: float, mde: float) -> None:
    # statsmodels' NormalIndPower with Cohen's h: n = 2 ((z_{1-alpha/2} + z_power) / h)² per arm
    h = 2 * math.asin(math.sqrt(baseline + mde)) - 2 * math.asin(math.sqrt(baseline))
    arcsine = 2 * ((norm.ppf(0.975) + norm.ppf(0.8)) / h) ** 2
    assert required_sample_size(baseline, mde) == pytest.approx(arcsine, rel=0.015)


def test_the_planned_sample_size_has_its_power_in_simulation() -> None:
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(20240611)
    n = required_sample_size(0.05, 0.03)
    sims = 4000
    xa, xb = rng.binomial(n, 0.05, sims), rng.binomial(n, 0.08, sims)
    pooled = (xa + xb) / (2 * n)
    z = (xb - xa) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    power = float(np.mean(np.abs(z) > norm.ppf(0.975)))
    print(f"n = {n} per arm for 5% -> 8%: simulated power {power:.3f}")
    assert 0.78 <= power <= 0.83


def test_the_mean_sample_size_is_the_z_formula() -> None:
    n = required_sample_size(0.0, 0.5, kind="mean", std=2.0)
    exact = 2 * (norm.ppf(0.975) + norm.ppf(0.8)) ** 2 * 4.0 / 0.25
    assert n == math.ceil(exact)
    assert minimum_detectable_effect(n, 0.0, kind="mean", std=2.0) <= 0.5
    assert minimum_detectable_effect(n - 1, 0.0, kind="mean", std=2.0) > 0.5


@given(st.floats(0.01, 0.9), st.integers(50, 200_000))
def test_the_mde_is_the_inverse_of_the_sample_size(baseline: float, n: int) -> None:
    mde = minimum_detectable_effect(n, baseline)
    if math.isinf(mde):
        assert closed_form_rate(baseline, 1 - 1e-12) > n
        return
    assert 0 < mde <= 1 - baseline
    assert closed_form_rate(baseline, baseline + mde) == pytest.approx(n, rel=1e-6)


def test_an_mde_beyond_reach_is_infinite() -> None:
    assert minimum_detectable_effect(2, 0.5) == math.inf


@pytest.mark.parametrize(
    "call",
    [
        lambda: required_sample_size(0.05, 0.0),
        lambda: required_sample_size(0.95, 0.1),
        lambda: required_sample_size(0.05, 0.01, alpha=0.0),
        lambda: required_sample_size(0.05, 0.01, power=1.0),
        lambda: required_sample_size(0.05, 0.01, kind="mean"),
        lambda: required_sample_size(0.05, 0.01, kind="median"),  # type: ignore[arg-type]
        lambda: minimum_detectable_effect(0, 0.05),
        lambda: minimum_detectable_effect(100, 1.0),
    ],
)
def test_bad_arguments_are_refused(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=r"mde|baseline|alpha|power|std|kind|n:"):
        call()
