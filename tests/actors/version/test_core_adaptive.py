"""VersionCore with `batch_wait_ms = "auto"`, tick by tick: a fake clock, no threads, no actors."""

from __future__ import annotations

from typing import Any

import pytest

from actorserve.actors.keys import ReplicaKey
from actorserve.actors.version.core import VersionCore
from actorserve.actors.version.dispatch import WOULD_MISS
from actorserve.actors.version.effects import FLUSH, Effects
from actorserve.domain import ErrorCode
from tests.actors.version.test_core import answered, ok, ready_core, work
from tests.fakes import FakeClock

PER_ITEM, FIXED = 0.001, 0.010
"""The synthetic backend: a batch of n costs 1 ms per request plus 10 ms."""


def auto_core(clock: FakeClock, **serving: Any) -> tuple[VersionCore, ReplicaKey]:
    serving.setdefault("max_batch_size", 8)
    core, (key, *_) = ready_core(clock, batch_wait_ms="auto", **serving)
    return core, key


def teach(core: VersionCore, key: ReplicaKey, clock: FakeClock, sizes: tuple[int, ...] = (1, 4, 8)) -> None:
    """The worker reports batches of these sizes, each costing `PER_ITEM * n + FIXED`."""
    for n in sizes:
        core.done(clock.monotonic(), key, (), ran=n, batch_s=PER_ITEM * n + FIXED)


def flush_at(effects: Effects) -> float:
    due = dict(effects.timers)[FLUSH]
    assert due is not None
    return due


def busy(core: VersionCore, clock: FakeClock) -> None:
    """Recent traffic: arrivals 0.5 ms apart, each run at once (before `teach`: no fit, so nothing waits)."""
    for _ in range(6):
        w = work(clock)
        (index, batch), *_ = core.infer(clock.monotonic(), w).send
        assert batch == (w,)
        core.done(clock.monotonic(), core.slots.key_of(index), (ok(w),))  # type: ignore[arg-type]
        clock.advance(0.0005)


def test_before_any_batch_is_measured_a_partial_batch_goes_at_once() -> None:
    clock = FakeClock()
    core, _ = auto_core(clock)
    w = work(clock)
    assert core.infer(clock.monotonic(), w).send == ((0, (w,)),)
    assert core.batch_cost is None


def test_the_core_fits_the_batch_cost_the_worker_reports() -> None:
    clock = FakeClock()
    core, key = auto_core(clock)
    teach(core, key, clock)
    assert core.batch_cost is not None
    assert core.batch_cost.per_item_s == pytest.approx(PER_ITEM)
    assert core.batch_cost.fixed_s == pytest.approx(FIXED)


def test_light_load_never_waits_even_when_batching_would_save() -> None:
    clock = FakeClock()
    core, key = auto_core(clock)
    teach(core, key, clock)
    for _ in range(3):
        w = work(clock)
        effects = core.infer(clock.monotonic(), w)
        assert effects.send == ((0, (w,)),)
        assert all(name != FLUSH for name, _ in effects.timers)
        core.done(clock.monotonic(), key, (ok(w),), ran=1, batch_s=PER_ITEM + FIXED)
        clock.advance(1.0)  # one request a second


def test_under_load_a_free_worker_waits_for_more_and_the_flush_sends_the_grown_batch() -> None:
    clock = FakeClock()
    core, key = auto_core(clock)
    busy(core, clock)
    teach(core, key, clock)
    a = work(clock)
    effects = core.infer(clock.monotonic(), a)
    assert effects.send == ()
    flush = flush_at(effects)
    assert flush == pytest.approx(clock.monotonic() + FIXED)  # waits at most the fixed cost it would save
    clock.advance(0.0005)
    b = work(clock)
    assert core.infer(clock.monotonic(), b).send == ()
    clock.advance(0.0005)
    c = work(clock)
    assert core.infer(clock.monotonic(), c).send == ()
    clock.advance(flush - clock.monotonic())
    assert core.timer(clock.monotonic(), FLUSH).send == ((0, (a, b, c)),)


def test_a_full_batch_goes_at_once_under_load() -> None:
    clock = FakeClock()
    core, key = auto_core(clock, max_batch_size=3)
    busy(core, clock)
    teach(core, key, clock)
    batch = [work(clock) for _ in range(3)]
    sends = [core.infer(clock.monotonic(), w).send for w in batch]
    assert sends == [(), (), ((0, tuple(batch)),)]


def test_a_tighter_deadline_arriving_shortens_the_armed_wait() -> None:
    clock = FakeClock()
    core, key = auto_core(clock)
    busy(core, clock)
    teach(core, key, clock)
    first = flush_at(core.infer(clock.monotonic(), work(clock)))
    urgent = work(clock, timeout_s=0.016)
    again = flush_at(core.infer(clock.monotonic(), urgent))
    assert again < first
    assert again == pytest.approx(urgent.deadline - (3 * PER_ITEM + FIXED))  # still meets it with one more


def test_a_request_that_cannot_meet_its_deadline_even_alone_is_answered_at_once() -> None:
    clock = FakeClock()
    core, key = auto_core(clock)
    teach(core, key, clock)
    w = work(clock, timeout_s=0.005)  # one request alone takes 11 ms
    effects = core.infer(clock.monotonic(), w)
    assert answered(effects) == {w.request.request_id: (ErrorCode.TIMEOUT, WOULD_MISS)}
    assert "would miss its deadline" in WOULD_MISS
    assert effects.send == ()
    assert len(core.queue) == 0


def test_a_queued_request_that_became_hopeless_is_shed_when_a_worker_frees() -> None:
    clock = FakeClock()
    core, key = auto_core(clock, pipeline_depth=1)
    teach(core, key, clock)
    running = work(clock)
    assert core.infer(clock.monotonic(), running).send
    tight, fine = work(clock, timeout_s=0.030), work(clock)
    assert core.infer(clock.monotonic(), tight).send == ()
    assert core.infer(clock.monotonic(), fine).send == ()
    clock.advance(0.025)  # `tight` has 5 ms left; alone it would take 11
    effects = core.done(clock.monotonic(), key, (ok(running),), ran=1, batch_s=0.025)
    assert answered(effects) == {tight.request.request_id: (ErrorCode.TIMEOUT, WOULD_MISS)}
    assert effects.send == ((0, (fine,)),)


def test_max_batch_size_one_sends_each_alone_and_never_waits() -> None:
    clock = FakeClock()
    core, key = auto_core(clock, max_batch_size=1, pipeline_depth=1)
    busy(core, clock)
    teach(core, key, clock, sizes=(1, 1, 1))
    a, b = work(clock), work(clock)
    assert core.infer(clock.monotonic(), a).send == ((0, (a,)),)
    assert core.infer(clock.monotonic(), b).send == ()
    effects = core.done(clock.monotonic(), key, (ok(a),), ran=1, batch_s=0.011)
    assert effects.send == ((0, (b,)),)
    assert all(name != FLUSH for name, _ in effects.timers)


def test_max_latency_bounds_the_wait_from_the_oldest_arrival() -> None:
    clock = FakeClock()
    core, key = auto_core(clock, max_latency_ms=15.0)
    busy(core, clock)
    teach(core, key, clock)
    a = work(clock)
    flush = flush_at(core.infer(clock.monotonic(), a))
    assert flush == pytest.approx(a.enqueued_at + 0.015 - (2 * PER_ITEM + FIXED))


def test_a_draining_version_never_waits() -> None:
    clock = FakeClock()
    core, key = auto_core(clock)
    busy(core, clock)
    teach(core, key, clock)
    a, b = work(clock), work(clock)
    assert core.infer(clock.monotonic(), a).send == ()  # under load: waiting for more
    assert core.infer(clock.monotonic(), b).send == ()
    assert core.drain(clock.monotonic()).send == ((0, (a, b)),)
