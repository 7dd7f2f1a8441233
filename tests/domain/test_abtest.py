from __future__ import annotations

import random
from collections import Counter

import pytest

from actorserve.domain import ErrorCode
from actorserve.domain.abtest import ABTestSpec, ArmStats, analyze, arm_label, assign


def spec(**kw: object) -> ABTestSpec:
    args: dict[str, object] = {"test_id": "t1", "arms": ("a", "b"), "weights": (50.0, 50.0)}
    args.update(kw)
    return ABTestSpec(**args)  # type: ignore[arg-type]


def simulate(s: ABTestSpec, error_rates: tuple[float, ...], n_per_arm: int, rng: random.Random) -> list[ArmStats]:
    arms = [ArmStats() for _ in s.arms]
    for arm, rate in zip(arms, error_rates, strict=True):
        for _ in range(n_per_arm):
            arm.assigned += 1
            failed = rng.random() < rate
            arm.record(
                success=not failed,
                latency_ms=rng.gauss(20, 4),
                cost_usd=0.001,
                tokens=10,
                error_code=ErrorCode.MODEL_ERROR if failed else None,
            )
    return arms


def test_aa_tests_have_the_promised_false_positive_rate() -> None:
    s = spec(success_metric="error_rate", min_samples=500, sequential=False)  # the fixed-horizon test decides
    rng = random.Random(20261127)
    winners = [analyze(s, simulate(s, (0.1, 0.1), 1000, rng), elapsed_s=1, ended=False)["winner"] for _ in range(200)]
    false_positive = sum(w is not None for w in winners) / len(winners)
    assert 0.02 <= false_positive <= 0.09


def test_a_5_vs_15_percent_error_rate_difference_is_found_in_95_percent_of_seeds() -> None:
    s = spec(success_metric="error_rate", min_samples=1000, sequential=False)
    found = 0
    for seed in range(100):
        result = analyze(s, simulate(s, (0.15, 0.05), 2000, random.Random(seed)), elapsed_s=1, ended=False)
        found += result["winner"] == "B"
    assert found >= 95


def test_no_winner_without_enough_samples_and_the_reason_says_so() -> None:
    s = spec(success_metric="error_rate", min_samples=5000)
    result = analyze(s, simulate(s, (0.5, 0.01), 100, random.Random(1)), elapsed_s=1, ended=False)
    assert result["winner"] is None
    assert "not enough samples" in str(result["reason"])


def test_a_sample_ratio_mismatch_blocks_the_winner() -> None:
    s = spec(success_metric="error_rate", min_samples=100)
    arms = simulate(s, (0.3, 0.05), 1000, random.Random(2))
    arms[0].assigned = 3000  # the split says 50/50, the tally says 75/25
    result = analyze(s, arms, elapsed_s=1, ended=False)
    assert result["sample_ratio_mismatch"]["mismatch"] is True  # type: ignore[index]
    assert result["winner"] is None
    assert "sample ratio mismatch" in str(result["reason"])


def test_lower_latency_wins_when_latency_is_the_success_metric() -> None:
    s = spec(success_metric="latency", min_samples=100)
    arms = [ArmStats(), ArmStats()]
    rng = random.Random(3)
    for arm, mean in zip(arms, (30.0, 20.0), strict=True):
        for _ in range(300):
            arm.assigned += 1
            arm.record(success=True, latency_ms=rng.gauss(mean, 5), cost_usd=0.0, tokens=0, error_code=None)
    result = analyze(s, arms, elapsed_s=1, ended=False)
    assert result["winner"] == "B"
    b = result["arms"][1]  # type: ignore[index]
    assert b["latency_ms_p50"] < b["latency_ms_p95"] < b["latency_ms_p99"]
    latency = result["comparisons"]["latency"][0]  # type: ignore[index]
    assert latency["difference"] < 0
    assert latency["relative_lift"] == pytest.approx(-1 / 3, abs=0.05)


def test_custom_outcomes_are_compared_and_can_decide() -> None:
    s = spec(success_metric="conversion", min_samples=200)
    arms = [ArmStats(assigned=400), ArmStats(assigned=400)]
    rng = random.Random(4)
    for arm, rate in zip(arms, (0.10, 0.25), strict=True):
        for _ in range(400):
            arm.record_custom("conversion", 1.0 if rng.random() < rate else 0.0)
    result = analyze(s, arms, elapsed_s=1, ended=False)
    assert result["winner"] == "B"
    assert result["arms"][1]["custom"]["conversion"]["n"] == 400  # type: ignore[index]


def test_sticky_assignment_is_a_pure_function_of_test_and_key() -> None:
    s = spec()
    assert {assign(s, "user-7", 0.99) for _ in range(5)} == {assign(s, "user-7", 0.01)}
    counts = Counter(assign(s, f"user-{i}", 0.0) for i in range(4000))
    assert 0.46 < counts[0] / 4000 < 0.54
    weighted = spec(weights=(90.0, 10.0))
    counts = Counter(assign(weighted, None, random.Random(i).random()) for i in range(4000))
    assert 0.87 < counts[0] / 4000 < 0.93


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"arms": ("a",), "weights": (1.0,)}, "arms"),
        ({"arms": ("a", "a")}, "arms"),
        ({"weights": (0.0, 0.0)}, "weights"),
        ({"weights": (-1.0, 2.0)}, "weights"),
        ({"weights": (1.0,)}, "weights"),
        ({"alpha": 1.5}, "alpha"),
        ({"min_samples": 0}, "min_samples"),
        ({"duration_s": 0}, "duration_s"),
        ({"test_id": ""}, "test_id"),
    ],
)
def test_invalid_specs_raise_naming_the_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}:"):
        spec(**kw)


def test_arm_labels() -> None:
    assert [arm_label(i) for i in range(3)] == ["A", "B", "C"]
