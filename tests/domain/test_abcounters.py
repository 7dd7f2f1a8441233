"""An arm's tallies survive the trip through additive counters, and add up across writers."""

from __future__ import annotations

import random

import pytest

from actorserve.domain.abarms import ArmStats
from actorserve.domain.abcounters import add_counters, arm_counters, arm_from_counters
from actorserve.domain.enums import ErrorCode


def feed(arm: ArmStats, rng: random.Random, n: int, keys: list[str | None]) -> None:
    for _ in range(n):
        key = rng.choice(keys)
        arm.assign(key)
        ok = rng.random() < 0.8
        arm.record(
            success=ok,
            latency_ms=rng.uniform(1, 50),
            cost_usd=rng.uniform(0, 0.01),
            tokens=rng.randint(1, 30),
            error_code=None if ok else ErrorCode.TIMEOUT,
            key=key,
        )
        if rng.random() < 0.3:
            arm.record_custom("conversion", rng.choice([0.0, 1.0]), key)


def same(a: ArmStats, b: ArmStats) -> None:
    assert (a.assigned, a.successes, a.tokens, dict(a.failures), a.units) == (
        b.assigned,
        b.successes,
        b.tokens,
        dict(b.failures),
        b.units,
    )
    for metric in ("success_rate", "error_rate", "latency", "cost", "conversion"):
        sa, sb = a.sample(metric), b.sample(metric)
        assert sa is not None and sb is not None
        assert (sa.n, sa.successes) == (sb.n, sb.successes)
        assert sa.summary.mean == pytest.approx(sb.summary.mean)
        assert sa.summary.variance == pytest.approx(sb.summary.variance, rel=1e-9, abs=1e-12)
        for name in ("units", "sum_n", "sum_s", "sum_n2", "sum_s2", "sum_ns"):
            assert getattr(sa.units, name) == pytest.approx(getattr(sb.units, name)), (metric, name)
    assert a.latency_histogram.count == b.latency_histogram.count
    assert a.latency_histogram.percentile(95) == pytest.approx(b.latency_histogram.percentile(95))


def test_an_arm_round_trips_through_its_counters() -> None:
    arm = ArmStats()
    feed(arm, random.Random(1), 500, ["u1", "u2", "u3", None, None])
    fields, units = arm_counters(arm)
    same(arm_from_counters(fields, units), arm)


def test_two_writers_add_up_to_one_arm_that_saw_everything_even_for_shared_keys() -> None:
    together, a, b = ArmStats(), ArmStats(), ArmStats()
    keys: list[str | None] = [f"user-{i}" for i in range(20)] + [None]
    for arm, seed in ((a, 2), (b, 3)):
        feed(arm, random.Random(seed), 400, keys)
        feed(together, random.Random(seed), 400, keys)
    fa, ua = arm_counters(a)
    fb, ub = arm_counters(b)
    merged = arm_from_counters(add_counters(fa, fb), add_counters(ua, ub))
    same(merged, together)


def test_an_empty_arm_is_empty_counters() -> None:
    fields, units = arm_counters(ArmStats())
    assert units == {}
    assert arm_from_counters(fields, units).answered == 0
