"""domain.sequential: the mixture SPRT's formulas against numerical integration, and its honesty by simulation."""

from __future__ import annotations

import bisect
import math
import random
import statistics

import pytest

from actorserve.domain.sequential import (
    SequentialResult,
    SequentialTest,
    msprt_means,
    msprt_rates,
    tau_for_horizon,
    tau_from_mde,
)
from actorserve.domain.stats import RunningStats, two_proportion_z_test

scipy_stats = pytest.importorskip("scipy.stats")
scipy_integrate = pytest.importorskip("scipy.integrate")

STEP = 50
LOOKS = 100  # a look after every 50 requests per arm, up to 5,000 per arm
SEEDS = 200


def cumulative_successes(rng: random.Random, p: float, step: int = STEP, looks: int = LOOKS) -> list[int]:
    """Successes after each look of `step` Bernoulli(p) trials, drawn as geometric gaps between successes."""
    total = step * looks
    log_q = math.log1p(-p)
    positions: list[int] = []
    i = -1
    while True:
        i += 1 + int(math.log(1.0 - rng.random()) / log_q)
        if i >= total:
            break
        positions.append(i)
    return [bisect.bisect_left(positions, step * (k + 1)) for k in range(looks)]


def mixture_ratio_by_quadrature(diff: float, variance: float, tau: float, theta0: float = 0.0) -> float:
    """∫ N(diff; θ, V) / N(diff; θ0, V) dN(θ; θ0, τ²), the definition of the mixture likelihood ratio."""
    sd = math.sqrt(variance)
    null = scipy_stats.norm.pdf(diff, theta0, sd)

    def integrand(theta: float) -> float:
        return float(scipy_stats.norm.pdf(diff, theta, sd) * scipy_stats.norm.pdf(theta, theta0, tau) / null)

    value, _ = scipy_integrate.quad(integrand, theta0 - 12 * tau, theta0 + 12 * tau, points=[diff], limit=200)
    return float(value)


@pytest.mark.parametrize(
    ("mean_a", "var_a", "n_a", "mean_b", "var_b", "n_b", "tau"),
    [
        (1.0, 4.0, 100, 1.3, 4.0, 100, 0.5),
        (0.0, 1.0, 40, 0.2, 9.0, 250, 0.3),  # unequal n and variances
        (5.0, 2.0, 1000, 4.9, 3.0, 10, 1.0),
    ],
)
def test_the_likelihood_ratio_is_the_normal_mixture_of_likelihood_ratios(
    mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int, tau: float
) -> None:
    r = msprt_means(mean_a, var_a, n_a, mean_b, var_b, n_b, tau=tau)
    variance = var_a / n_a + var_b / n_b
    assert r.variance == pytest.approx(variance)
    assert r.likelihood_ratio == pytest.approx(mixture_ratio_by_quadrature(mean_b - mean_a, variance, tau), rel=1e-6)
    assert r.p_value == pytest.approx(min(1.0, 1.0 / r.likelihood_ratio))


def test_with_equal_arms_it_is_the_two_stream_form_of_johari_pekelis_walsh() -> None:
    sigma2, n, tau, diff = 2.5, 300, 0.4, 0.35
    r = msprt_means(0.0, sigma2, n, diff, sigma2, n, tau=tau)
    t2 = tau * tau
    paper = math.sqrt(2 * sigma2 / (2 * sigma2 + n * t2)) * math.exp(
        n * n * t2 * diff * diff / (4 * sigma2 * (2 * sigma2 + n * t2))
    )
    assert r.likelihood_ratio == pytest.approx(paper, rel=1e-12)


def test_the_likelihood_ratio_has_mean_one_under_the_null() -> None:
    # the martingale property at one look: E[Λ] = 1 when Δ̂ ~ N(0, V)
    variance, tau = 0.04, 0.3
    sd = math.sqrt(variance)

    def weighted(d: float) -> float:
        lr = msprt_means(0.0, variance, 1, d, 0.0, 1, tau=tau).likelihood_ratio
        return float(lr * scipy_stats.norm.pdf(d, 0.0, sd))

    value, _ = scipy_integrate.quad(weighted, -15 * sd, 15 * sd, limit=200)
    assert value == pytest.approx(1.0, rel=1e-7)


def test_the_confidence_sequence_is_where_the_ratio_stays_below_one_over_alpha() -> None:
    r = msprt_means(10.0, 4.0, 200, 10.4, 5.0, 150, tau=0.5, alpha=0.1)
    for end in (r.lower, r.upper):
        # the test of B - A = end sits exactly on its boundary Λ = 1/alpha
        shifted = msprt_means(0.0, 4.0, 200, r.difference - end, 5.0, 150, tau=0.5, alpha=0.1)
        assert shifted.likelihood_ratio == pytest.approx(1 / 0.1, rel=1e-9)
    assert r.decided == (not r.lower <= 0.0 <= r.upper)


def test_decided_means_p_at_most_alpha_and_zero_outside_the_interval() -> None:
    for diff in (0.0, 0.05, 0.1, 0.2, 0.4):
        r = msprt_means(0.0, 1.0, 400, diff, 1.0, 400, tau=0.1)
        assert r.decided == (r.p_value <= 0.05) == (not r.lower < 0.0 < r.upper)


def test_an_arm_without_data_gives_no_evidence_and_no_bounds() -> None:
    r = msprt_rates(0, 0, 5, 10, tau=0.05)
    assert (r.likelihood_ratio, r.p_value, r.lower, r.upper, r.decided) == (1.0, 1.0, -1.0, 1.0, False)
    m = msprt_means(0.0, 1.0, 0, 1.0, 1.0, 10, tau=0.5)
    assert (m.p_value, m.lower, m.upper) == (1.0, -math.inf, math.inf)


def test_rates_with_no_successes_yet_keep_a_positive_variance() -> None:
    r = msprt_rates(0, 20, 0, 20, tau=0.05)
    assert r.variance > 0
    assert r.lower < 0.0 < r.upper
    assert r.p_value == 1.0


def test_a_point_mass_is_decided_only_when_the_arms_differ() -> None:
    assert msprt_means(1.0, 0.0, 5, 1.0, 0.0, 5, tau=1.0).p_value == 1.0
    differ = msprt_means(1.0, 0.0, 5, 2.0, 0.0, 5, tau=1.0)
    assert (differ.p_value, differ.likelihood_ratio, differ.lower, differ.upper) == (0.0, math.inf, 1.0, 1.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: msprt_rates(1, 10, 1, 10, tau=0.0),
        lambda: msprt_rates(1, 10, 1, 10, tau=0.1, alpha=1.0),
        lambda: msprt_rates(11, 10, 1, 10, tau=0.1),
        lambda: msprt_means(0.0, -1.0, 10, 0.0, 1.0, 10, tau=0.1),
        lambda: tau_for_horizon(0.0),
        lambda: tau_from_mde(0.0),
        lambda: tau_from_mde(0.1, power=1.0),
    ],
)
def test_bad_arguments_are_refused(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=r"tau|alpha|successes|variance|mde|power"):
        call()


def test_the_sequential_state_keeps_the_running_minimum_and_intersection() -> None:
    looks = [msprt_means(0.0, 1.0, n, d, 1.0, n, tau=0.2) for n, d in ((100, 0.3), (200, 0.1), (400, 0.15))]
    state = SequentialTest()
    assert not state.decided
    for look in looks:
        state = state.observe(look)
    assert state.looks == 3
    assert state.p_value == min(look.p_value for look in looks)
    assert state.lower == max(look.lower for look in looks)
    assert state.upper == min(look.upper for look in looks)
    with pytest.raises(ValueError, match="alpha"):
        state.observe(msprt_means(0.0, 1.0, 10, 0.0, 1.0, 10, tau=0.2, alpha=0.1))
    with pytest.raises(ValueError, match="tau"):
        state.observe(msprt_means(0.0, 1.0, 10, 0.0, 1.0, 10, tau=0.3))


def test_tau_for_horizon_minimises_the_interval_width_there() -> None:
    variance = 1e-4
    tau = tau_for_horizon(variance)

    def width(t: float) -> float:
        r: SequentialResult = msprt_means(0.0, variance, 1, 0.0, 0.0, 1, tau=t)
        return r.upper - r.lower

    assert width(tau) < width(tau * 0.9)
    assert width(tau) < width(tau * 1.1)
    # r = τ²/V is the root of r = 2 log(1/alpha) + log(1 + r); about 8.21 at alpha = 0.05
    assert tau * tau / variance == pytest.approx(8.21, abs=0.01)
    assert (tau * tau / variance) == pytest.approx(2 * math.log(20) + math.log1p(tau * tau / variance), rel=1e-9)


def test_tau_from_mde_is_about_the_mde_at_the_usual_alpha_and_power() -> None:
    assert tau_from_mde(0.03) == pytest.approx(1.0227 * 0.03, rel=1e-3)
    assert tau_from_mde(-0.03) == tau_from_mde(0.03)


def peek_every_look(p_a: float, p_b: float, tau: float) -> tuple[float, float, list[float], float]:
    """Over SEEDS seeds: sequential rejections, fixed-horizon z-test rejections at any look, stopping n, coverage."""
    sequential = fixed = covered = 0
    stops: list[float] = []
    truth = p_b - p_a
    for seed in range(SEEDS):
        rng = random.Random(seed)
        a, b = cumulative_successes(rng, p_a), cumulative_successes(rng, p_b)
        state = SequentialTest()
        stop = math.inf
        peeked_significant = False
        covers_all = True
        for k in range(LOOKS):
            n = STEP * (k + 1)
            look = msprt_rates(a[k], n, b[k], n, tau=tau)
            state = state.observe(look)
            covers_all = covers_all and look.lower <= truth <= look.upper
            if state.decided and math.isinf(stop):
                stop = n
            peeked_significant = peeked_significant or two_proportion_z_test(a[k], n, b[k], n).p_value < 0.05
        sequential += state.decided
        fixed += peeked_significant
        covered += covers_all
        stops.append(stop)
    return sequential / SEEDS, fixed / SEEDS, stops, covered / SEEDS


def test_continuous_peeking_keeps_the_sequential_false_positive_rate_but_not_the_fixed_one() -> None:
    sequential, fixed, _, covered = peek_every_look(0.1, 0.1, tau=tau_from_mde(0.02))
    print(f"A/A, 100 looks: sequential FPR {sequential:.3f}, fixed-horizon z-test at every look {fixed:.3f}")
    assert sequential <= 0.05
    assert fixed > 0.05  # peeking at a fixed-horizon test inflates it (here to ~0.3)
    assert fixed > 4 * max(sequential, 0.01)
    assert covered >= 0.95


def test_a_real_difference_is_detected_early_and_covered_at_every_look() -> None:
    detected, _, stops, covered = peek_every_look(0.05, 0.08, tau=tau_from_mde(0.03))
    median_stop = statistics.median(stops)
    print(f"5% vs 8%: detected {detected:.3f}, median stopping n per arm {median_stop}, CS coverage {covered:.3f}")
    assert detected >= 0.90
    assert 500 <= median_stop <= 2500  # the fixed-horizon 80%-power n is about 1,060 per arm
    assert covered >= 0.95


def test_means_with_a_plug_in_variance_keep_the_false_positive_rate_under_peeking() -> None:
    rejected = 0
    for seed in range(SEEDS):
        rng = random.Random(seed)
        a, b = RunningStats(), RunningStats()
        state = SequentialTest()
        for _ in range(40):  # a look after every 25 observations per arm, to 1,000
            for _ in range(25):
                a.add(rng.gauss(10.0, 3.0))
                b.add(rng.gauss(10.0, 3.0))
            sa, sb = a.summary(), b.summary()
            state = state.observe(msprt_means(sa.mean, sa.variance, sa.n, sb.mean, sb.variance, sb.n, tau=0.5))
        rejected += state.decided
    print(f"A/A on means, 40 looks: sequential FPR {rejected / SEEDS:.3f}")
    assert rejected / SEEDS <= 0.05
