"""domain.abtest with the sequential, unit-level, CUPED and planning figures wired into the analysis."""

from __future__ import annotations

import math
import random

import pytest

from actorserve.domain import ConfigError, ErrorCode
from actorserve.domain.abstats import SequentialState, may_decide
from actorserve.domain.abtest import ABTestSpec, ArmStats, analyze, sequential_look, sequential_verdict
from actorserve.domain.sequential import msprt_difference, msprt_means
from actorserve.domain.units import UnitLedger
from actorserve.domain.variance import RatioTotals


def spec(**kw: object) -> ABTestSpec:
    args: dict[str, object] = {"test_id": "t1", "arms": ("a", "b"), "weights": (50.0, 50.0)}
    args.update(kw)
    return ABTestSpec(**args)  # type: ignore[arg-type]


def record(arm: ArmStats, *, success: bool, key: str | None = None) -> None:
    arm.assign(key)
    code = None if success else ErrorCode.MODEL_ERROR
    arm.record(success=success, latency_ms=10.0, cost_usd=0.0, tokens=1, error_code=code, key=key)


def test_the_ledger_keeps_the_same_totals_as_summing_each_unit_at_the_end() -> None:
    rng = random.Random(5)
    ledger = UnitLedger()
    per_unit: dict[str, list[float]] = {}
    for _ in range(500):
        key = f"u{rng.randrange(30)}"
        s = float(rng.random() < 0.3)
        ledger.add(key, "success_rate", 1.0, s)
        per_unit.setdefault(key, []).append(s)
    expected = RatioTotals.of((len(v), sum(v)) for v in per_unit.values())
    got = ledger.ratio("success_rate")
    assert got.units == expected.units == len(per_unit)
    for name in ("sum_n", "sum_s", "sum_n2", "sum_s2", "sum_ns"):
        assert getattr(got, name) == pytest.approx(getattr(expected, name))
    errors = RatioTotals.of((len(v), len(v) - sum(v)) for v in per_unit.values())
    assert ledger.ratio("error_rate").sum_s2 == pytest.approx(errors.sum_s2)
    assert ledger.ratio("error_rate").sum_ns == pytest.approx(errors.sum_ns)
    assert ledger.keyed_units == len(per_unit)


def test_requests_without_a_key_are_units_of_their_own() -> None:
    ledger = UnitLedger()
    for s in (1.0, 0.0, 1.0):
        ledger.add(None, "success_rate", 1.0, s)
    assert ledger.ratio("success_rate") == RatioTotals.of([(1, 1), (1, 0), (1, 1)])
    assert ledger.keyed_units == 0


def test_msprt_difference_matches_msprt_means_for_the_same_variance() -> None:
    r = msprt_means(0.0, 4.0, 100, 0.5, 4.0, 100, tau=0.3)
    d = msprt_difference(0.5, 0.08, tau=0.3)
    assert d.p_value == pytest.approx(r.p_value)
    assert (d.lower, d.upper) == pytest.approx((r.lower, r.upper))
    with pytest.raises(ValueError, match="variance"):
        msprt_difference(0.1, -1.0, tau=0.3)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"tau": 0.0}, "tau"),
        ({"tau": -1.0}, "tau"),
        ({"tau": math.inf}, "tau"),
        ({"mde": 0.0}, "mde"),
        ({"mde": 1.5}, "mde"),
        ({"mde": math.nan}, "mde"),
        ({"power": 1.0}, "power"),
        ({"conclude": "maybe"}, "conclude"),
        ({"conclude": "stop", "sequential": False}, "conclude"),
        ({"sequential": "yes"}, "sequential"),
        ({"covariates": {"u1": "high"}}, "covariates"),
    ],
)
def test_bad_sequential_settings_raise_naming_the_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}:") as info:
        spec(**kw)
    assert info.value.field == field


def test_an_mde_above_one_is_fine_for_a_metric_in_its_own_units() -> None:
    assert spec(success_metric="latency", mde=5.0).mde == 5.0


def test_a_clear_difference_is_decided_and_the_report_says_by_which_test() -> None:
    s = spec(min_samples=50)
    arms = [ArmStats(), ArmStats()]
    rng = random.Random(3)
    state = SequentialState()
    for _ in range(600):
        for arm, rate in zip(arms, (0.5, 0.8), strict=True):
            record(arm, success=rng.random() < rate)
        state = sequential_look(s, arms, state)
    verdict = sequential_verdict(s, arms, state)
    assert (verdict.status, verdict.winner) == ("winner", 1)
    assert may_decide(state, alpha=0.05, mde=None)
    assert not may_decide(SequentialState(), alpha=0.05, mde=0.1)
    report = analyze(s, arms, elapsed_s=1.0, ended=False, sequential=state)
    assert report["decided_by"] == "sequential"
    assert report["winner"] == "B"
    assert report["unit"] == "request"
    seq = report["sequential"]
    assert isinstance(seq, dict)
    row = seq["comparisons"][0]
    assert row["p_value"] <= 0.05
    assert row["confidence_sequence"][0] > 0
    assert row["looks"] == state.tests[0].looks
    assert seq["tau_source"] == "first look"
    fixed = report["fixed_horizon"]
    assert isinstance(fixed, dict)
    assert fixed["winner"] == "B"


def test_a_tie_with_an_mde_ends_as_futility_never_as_a_winner() -> None:
    s = spec(min_samples=50, mde=0.2)
    arms = [ArmStats(), ArmStats()]
    rng = random.Random(4)
    state = SequentialState()
    for _ in range(1500):
        for arm in arms:
            record(arm, success=rng.random() < 0.5)
        state = sequential_look(s, arms, state)
    verdict = sequential_verdict(s, arms, state)
    assert verdict.status == "futility"
    assert may_decide(state, alpha=0.05, mde=0.2)
    assert not may_decide(state, alpha=0.05, mde=None)  # a tie decides nothing without an mde
    assert verdict.winner is None
    assert "futility" in verdict.reason


def test_with_keys_the_unit_is_the_key_and_a_heavy_user_widens_the_interval() -> None:
    s = spec(min_samples=10, sequential=False)
    rng = random.Random(8)
    by_request = [ArmStats(), ArmStats()]
    by_user = [ArmStats(), ArmStats()]
    for i in range(40):  # 40 users per arm, 25 requests each, each user with a rate of their own
        for arm_r, arm_u in zip(by_request, by_user, strict=True):
            p = rng.random()
            for _ in range(25):
                ok = rng.random() < p
                record(arm_r, success=ok)
                record(arm_u, success=ok, key=f"user-{i}")
    request_row = analyze(s, by_request, elapsed_s=1, ended=False)
    user_row = analyze(s, by_user, elapsed_s=1, ended=False)
    assert (request_row["unit"], user_row["unit"]) == ("request", "key")

    def width(report: dict[str, object]) -> float:
        comparisons = report["comparisons"]
        assert isinstance(comparisons, dict)
        lo, hi = comparisons["success_rate"][0]["difference_ci95"]
        return float(hi - lo)

    assert width(user_row) > 2 * width(request_row)  # 25 correlated requests are far fewer than 25 units
    comparisons = user_row["comparisons"]
    assert isinstance(comparisons, dict)
    assert comparisons["success_rate"][0]["kind"] == "ratio"


def test_three_arms_use_holm_and_state_the_family_alpha() -> None:
    s = ABTestSpec("t", ("a", "b", "c"), (1.0, 1.0, 1.0), min_samples=20)
    arms = [ArmStats(), ArmStats(), ArmStats()]
    rng = random.Random(2)
    for _ in range(300):
        for arm, rate in zip(arms, (0.5, 0.5, 0.9), strict=True):
            record(arm, success=rng.random() < rate)
    report = analyze(s, arms, elapsed_s=1, ended=False)
    assert report["multiple_comparisons"] == {
        "method": "holm",
        "family_alpha": 0.05,
        "hypotheses": 2,
        "interval_alpha": 0.025,
    }
    comparisons = report["comparisons"]
    assert isinstance(comparisons, dict)
    rows = comparisons["success_rate"]
    assert [r["arm"] for r in rows] == ["B", "C"]
    assert all(r["p_value_holm"] >= r["p_value"] for r in rows)
    assert report["winner"] == "C"


def test_cuped_and_planning_figures_are_in_the_report() -> None:
    s = spec(min_samples=10, mde=0.1, covariates={})
    rng = random.Random(9)
    arms = [ArmStats(), ArmStats()]
    covariates: dict[str, float] = {}
    for i in range(400):
        key = f"u{i}"
        arm = arms[i % 2]
        x = rng.gauss(0, 1)
        covariates[key] = x
        p = min(0.95, max(0.05, 0.5 + 0.2 * x))
        for _ in range(5):
            record(arm, success=rng.random() < p, key=key)
    report = analyze(s, arms, elapsed_s=1, ended=False, covariates=covariates)
    cuped = report["cuped"]
    assert isinstance(cuped, dict)
    assert cuped["covariate_units"] == [200, 200]
    row = cuped["comparisons"][0]
    assert row["variance_reduction"] > 0.2
    assert row["std_error"] < row["unadjusted_std_error"]
    planning = report["planning"]
    assert isinstance(planning, dict)
    assert planning["mde"] == 0.1
    assert planning["mde_at_current_n"] is not None
    assert isinstance(planning["required_n_per_arm"], int)
    assert isinstance(planning["samples_still_needed"], int)
    assert analyze(s, arms, elapsed_s=1, ended=False)["cuped"] is None
