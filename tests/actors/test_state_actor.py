"""The state actor on a real SQLite store: durable writes, statistics written behind, a store that fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest

from actorserve.actors.clock import SystemClock
from actorserve.actors.messages import Count, FlushState, Persist, StateStatus, Write
from actorserve.actors.reply import SyncReply
from actorserve.actors.scheduler import Scheduler
from actorserve.actors.sinks import SinkFanout
from actorserve.actors.state import StateActor
from actorserve.actors.tracking import ThreadTracker
from actorserve.adapters.state import SqliteStateStore
from actorserve.domain.errors import ConfigError, StateError
from actorserve.domain.ports import StateStore


class Outage:
    """Wraps a real store; while `down`, every write raises as a lost connection would."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.down = False

    def __getattr__(self, name: str) -> Any:
        if name == "increment" and "increment" in self.__dict__:
            return self.__dict__["increment"]
        attr = getattr(self.store, name)
        if name in ("put_document", "delete_document", "increment") and callable(attr):

            def guarded(*args: object, **kwargs: object) -> object:
                if self.down:
                    raise StateError(f"{self.store.url}: connection refused", url=self.store.url)
                return attr(*args, **kwargs)

            return guarded
        return attr


class Sink:
    def __init__(self) -> None:
        self.flushes: list[tuple[str, int, bool]] = []

    def state_flushed(self, backend: str, duration_s: float, pending: int, ok: bool) -> None:
        self.flushes.append((backend, pending, ok))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Outage]:
    real = SqliteStateStore.from_url(f"sqlite:///{tmp_path / 'state.db'}")
    yield Outage(real)
    real.close()


@pytest.fixture
def actor(store: Outage) -> Iterator[tuple[pykka.ActorRef[Any], Sink]]:
    clock = SystemClock()
    scheduler = Scheduler(clock)
    tracker = ThreadTracker()
    sink = Sink()
    ref = StateActor.start(
        store=store,
        backend="sqlite",
        clock=clock,
        scheduler=scheduler,
        tracker=tracker,
        sink=SinkFanout([sink]),  # type: ignore[list-item]  # a sink with only the state event
        flush_interval_s=3600.0,  # flushes are asked for explicitly below
        max_pending_targets=3,
    )
    yield ref, sink
    ref.stop()
    scheduler.stop()
    assert tracker.join_all(5) == []


def ask(ref: pykka.ActorRef[Any], make: Any) -> Any:
    reply: SyncReply[Any] = SyncReply()
    ref.tell(make(reply))
    assert reply.wait(5)
    return reply.value()


def test_a_persisted_write_is_in_the_store_when_answered(actor: Any, store: Outage) -> None:
    ref, _ = actor
    assert ask(ref, lambda r: Persist((Write("version", "v1", {"a": 1}),), r)) is None
    assert store.get_document("version", "v1") == {"a": 1}
    assert ask(ref, lambda r: Persist((Write("version", "v1", None),), r)) is None
    assert store.get_document("version", "v1") is None


def test_statistics_are_written_behind_and_only_on_a_flush(actor: Any, store: Outage) -> None:
    ref, sink = actor
    for _ in range(5):
        ref.tell(Count({("ab", "t1"): {"n": 1, "latency_sum": 2.0}}))
    assert store.read_counters("ab", "t1") == {}
    assert ask(ref, FlushState) is True
    assert store.read_counters("ab", "t1") == {"n": 5, "latency_sum": 10}
    assert sink.flushes == [("sqlite", 0, True)]


def test_a_store_that_is_down_keeps_the_statistics_until_it_is_back(actor: Any, store: Outage) -> None:
    ref, sink = actor
    store.down = True
    ref.tell(Count({("ab", "t1"): {"n": 1}}))
    ref.tell(Count({("ab", "t1"): {"n": 1}}))
    assert ask(ref, FlushState) is False
    status = ask(ref, StateStatus)
    assert status["healthy"] is False and status["pending"] == 2
    assert "connection refused" in status["last_error"]
    error = ask(ref, lambda r: Persist((Write("version", "v1", {"a": 1}),), r))
    assert error is not None and "connection refused" in error  # a control-plane write says it failed

    store.down = False
    ref.tell(Count({("ab", "t1"): {"n": 1}}))
    assert ask(ref, FlushState) is True
    assert store.read_counters("ab", "t1") == {"n": 3}  # nothing counted was lost
    status = ask(ref, StateStatus)
    assert status["healthy"] is True and status["pending"] == 0 and status["last_error"] is None
    assert [ok for _, _, ok in sink.flushes] == [False, False, True]


def test_a_long_outage_drops_new_counter_sets_past_the_bound_and_counts_them(actor: Any, store: Outage) -> None:
    ref, _ = actor
    store.down = True
    for key in ("a", "b", "c", "d", "e"):
        ref.tell(Count({("unit", key): {"n": 1}}))
    status = ask(ref, StateStatus)
    assert status["pending"] == 3 and status["dropped"] == 2


def test_a_batch_the_store_refuses_is_dropped_and_later_ones_still_flow(actor: Any, store: Outage) -> None:
    ref, _ = actor
    real = store.store
    refuse = {"once": True}

    def increment(batch: Any, *, batch_id: str | None = None) -> None:
        if refuse.pop("once", False):
            raise ConfigError("field: too long", field="field")
        real.increment(batch, batch_id=batch_id)

    store.increment = increment  # type: ignore[attr-defined]
    ref.tell(Count({("ab", "t1"): {"n": 1}}))
    assert ask(ref, FlushState) is False
    status = ask(ref, StateStatus)
    assert status["dropped"] == 1 and status["pending"] == 0
    ref.tell(Count({("ab", "t1"): {"n": 1}}))
    assert ask(ref, FlushState) is True  # not blocked behind the refused one
    assert real.read_counters("ab", "t1") == {"n": 1}
