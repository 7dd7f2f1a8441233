"""Batching events reach the sinks that want them; sinks written before them still work."""

from __future__ import annotations

from collections.abc import Sequence

from actorserve.actors import ServingRuntime
from actorserve.actors.sinks import NullSink, SinkFanout
from actorserve.domain import BatchMetricsSink, ModelStatus, ModelVersion, Outcome
from tests.fakes import FakeInvoker, RecordingSink, eventually, make_version, submit_many


class OldSink:
    """A third-party sink from before batching metrics: no batch methods."""

    active = True

    def __init__(self) -> None:
        self.completed = 0

    def status_changed(self, version: ModelVersion, status: ModelStatus, at: float) -> None:
        pass

    def requests_completed(self, version: ModelVersion, outcomes: Sequence[Outcome]) -> None:
        self.completed += len(outcomes)

    def replica_loaded(self, version: ModelVersion, load_s: float) -> None:
        pass

    def load_changed(self, version: ModelVersion, queue_depth: int, in_flight: int, replicas_ready: int) -> None:
        pass


def test_the_runtimes_sinks_take_batch_events_and_an_old_sink_is_skipped() -> None:
    assert isinstance(SinkFanout(), BatchMetricsSink)
    assert isinstance(NullSink(), BatchMetricsSink)
    assert not isinstance(OldSink(), BatchMetricsSink)
    fanout = SinkFanout([OldSink()])
    fanout.batch_finished(make_version(), 4, 0.01)  # skipped, no error
    fanout.batch_cost_changed(make_version(), 0.001, 0.01)


def test_a_batching_version_reports_its_batch_sizes_and_an_unbatched_one_does_not() -> None:
    old, sink = OldSink(), RecordingSink()
    with ServingRuntime(FakeInvoker(latency=0.002), metrics_sink=old) as rt:
        rt.add_metrics_sink(sink)
        rt.register(make_version("batched", "a", max_batch_size=8, batch_wait_ms=1.0))
        rt.register(make_version("single", "b"))
        assert rt.wait_ready("batched", 5)
        assert rt.wait_ready("single", 5)
        replies = submit_many(rt, 20, model="a") + submit_many(rt, 5, model="b")
        assert all(rt.await_reply(r, 5).success for r in replies)
        assert eventually(lambda: sum(sink.batch_sizes("batched")) == 20 and old.completed == 25)
    assert sum(sink.batch_sizes("batched")) == 20
    assert sink.batch_sizes("single") == []
    assert sink.costs == []  # a fixed wait fits no cost
    assert old.completed == 25
