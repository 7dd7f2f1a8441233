"""domain.variance: the delta method and CUPED from sufficient statistics, against direct formulas and simulation."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from actorserve.domain.stats import compare_rates
from actorserve.domain.variance import CupedTotals, RatioTotals, compare_ratios, cuped, delta_method_ratio

SEEDS = 200


def test_the_delta_method_from_sums_is_the_textbook_formula_on_the_rows() -> None:
    rng = random.Random(7)
    rows = [(n, rng.randint(0, n)) for n in (rng.randint(1, 60) for _ in range(80))]
    est = delta_method_ratio(RatioTotals.of(rows))
    ns, ss = [float(n) for n, _ in rows], [float(s) for _, s in rows]
    k, r, nbar = len(rows), sum(ss) / sum(ns), statistics.fmean(ns)
    var = (statistics.variance(ss) - 2 * r * statistics.covariance(ss, ns) + r * r * statistics.variance(ns)) / (
        k * nbar * nbar
    )
    assert est.estimate == pytest.approx(r)
    assert est.std_error == pytest.approx(math.sqrt(var), rel=1e-9)
    assert est.units == k


def test_with_one_request_per_unit_the_delta_method_is_the_binomial_error() -> None:
    rows = [(1, 1)] * 30 + [(1, 0)] * 70
    est = delta_method_ratio(RatioTotals.of(rows))
    assert est.std_error == pytest.approx(math.sqrt(0.3 * 0.7 / 99), rel=1e-12)  # (K - 1) sample variance


def test_too_few_units_give_an_unbounded_interval() -> None:
    assert delta_method_ratio(RatioTotals()).std_error == math.inf
    assert delta_method_ratio(RatioTotals.of([(10, 3)])).std_error == math.inf
    c = compare_ratios(RatioTotals.of([(10, 3)]), RatioTotals.of([(10, 4), (5, 1)]))
    assert (c.lower, c.upper, c.p_value, c.significant) == (-math.inf, math.inf, 1.0, False)


def users(rng: random.Random, mean: float, count: int = 50, requests: int = 40, kappa: float = 5.0) -> RatioTotals:
    """`count` users of `requests` requests each, with success rates ~ Beta(mean·kappa, (1 - mean)·kappa)."""
    totals = RatioTotals()
    for _ in range(count):
        p = rng.betavariate(mean * kappa, (1 - mean) * kappa)  # a user-level random effect: ICC 1/(1 + kappa)
        totals = totals.add(requests, sum(rng.random() < p for _ in range(requests)))
    return totals


def test_user_level_intervals_cover_while_request_level_ones_undercover() -> None:
    truth = 0.12 - 0.10
    user_level = request_level = 0
    for seed in range(SEEDS):
        rng = random.Random(seed)
        a, b = users(rng, 0.10), users(rng, 0.12)
        c = compare_ratios(a, b)
        user_level += c.lower <= truth <= c.upper
        naive = compare_rates("success_rate", int(a.sum_s), int(a.sum_n), int(b.sum_s), int(b.sum_n))
        low, high = naive.difference_interval
        request_level += low <= truth <= high
    print(f"delta-method coverage {user_level / SEEDS:.3f}, request-level coverage {request_level / SEEDS:.3f}")
    assert 0.90 <= user_level / SEEDS <= 0.99
    assert request_level / SEEDS < 0.80


def test_cuped_totals_give_the_regression_adjustment_of_the_rows() -> None:
    rng = random.Random(3)
    rows_a = [(x, 2 * x + rng.gauss(0, 1)) for x in (rng.gauss(0, 1) for _ in range(60))]
    rows_b = [(x, 2 * x + 0.5 + rng.gauss(0, 1)) for x in (rng.gauss(0, 1) for _ in range(40))]
    result = cuped(CupedTotals.of(rows_a), CupedTotals.of(rows_b))

    def centred(rows: list[tuple[float, float]]) -> list[tuple[float, float]]:
        mx, my = statistics.fmean(x for x, _ in rows), statistics.fmean(y for _, y in rows)
        return [(x - mx, y - my) for x, y in rows]

    pooled = centred(rows_a) + centred(rows_b)
    theta = sum(x * y for x, y in pooled) / sum(x * x for x, _ in pooled)
    assert result.theta == pytest.approx(theta, rel=1e-9)
    adj_a = [y - theta * x for x, y in rows_a]
    adj_b = [y - theta * x for x, y in rows_b]
    assert result.difference == pytest.approx(statistics.fmean(adj_b) - statistics.fmean(adj_a), rel=1e-9)
    se = math.sqrt(statistics.variance(adj_a) / 60 + statistics.variance(adj_b) / 40)
    assert result.std_error == pytest.approx(se, rel=1e-9)
    assert result.variance_reduction > 0.5


def test_cuped_removes_about_rho_squared_of_the_variance_without_bias() -> None:
    rho, effect, n = 0.7, 0.1, 400
    estimates, raw_estimates, reductions = [], [], []
    covered = 0
    for seed in range(SEEDS):
        rng = random.Random(seed)
        arms = []
        for shift in (0.0, effect):
            totals = CupedTotals()
            for _ in range(n):
                x = rng.gauss(0.0, 1.0)
                totals = totals.add(x, 1.0 + shift + rho * x + math.sqrt(1 - rho * rho) * rng.gauss(0.0, 1.0))
            arms.append(totals)
        result = cuped(arms[0], arms[1])
        estimates.append(result.difference)
        raw_estimates.append(result.unadjusted_difference)
        reductions.append(result.variance_reduction)
        covered += result.lower <= effect <= result.upper
    reduction = statistics.fmean(reductions)
    realised = 1 - statistics.variance(estimates) / statistics.variance(raw_estimates)
    print(f"CUPED: reported reduction {reduction:.3f}, realised over seeds {realised:.3f}, coverage {covered / SEEDS}")
    assert reduction == pytest.approx(rho * rho, abs=0.02)
    assert realised == pytest.approx(rho * rho, abs=0.1)
    standard_error = statistics.stdev(estimates) / math.sqrt(SEEDS)
    assert abs(statistics.fmean(estimates) - effect) < 3 * standard_error
    assert 0.90 <= covered / SEEDS <= 0.99


def test_cuped_needs_two_units_per_arm() -> None:
    with pytest.raises(ValueError, match="at least 2 units"):
        cuped(CupedTotals.of([(1.0, 2.0)]), CupedTotals.of([(1.0, 2.0), (2.0, 3.0)]))


def test_a_constant_covariate_leaves_the_plain_difference() -> None:
    a = CupedTotals.of([(1.0, y) for y in (1.0, 2.0, 3.0)])
    b = CupedTotals.of([(1.0, y) for y in (2.0, 3.0, 4.0)])
    result = cuped(a, b)
    assert (result.theta, result.difference, result.variance_reduction) == (0.0, 1.0, 0.0)
