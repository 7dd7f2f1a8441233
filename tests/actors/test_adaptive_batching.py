"""Adaptive batching through the actors, on a simulated backend whose batch of n costs `a·n + b`."""

from __future__ import annotations

import statistics

from actorserve.actors import ServingRuntime
from actorserve.adapters.prometheus_exporter import PrometheusExporter
from actorserve.adapters.simulated import SimulatedInvoker
from actorserve.domain import ErrorCode
from tests.fakes import RecordingSink, eventually, make_version, submit_many

PER_ITEM_MS, FIXED_MS = 1.0, 9.0
"""SimulatedInvoker's batch of n takes `latency_ms + batch_item_latency_ms·(n-1)`: here 1 ms·n + 9 ms."""


def backend() -> SimulatedInvoker:
    return SimulatedInvoker(latency_ms=PER_ITEM_MS + FIXED_MS, batch_item_latency_ms=PER_ITEM_MS)


def test_light_load_runs_each_request_alone_without_waiting() -> None:
    sink = RecordingSink()
    with ServingRuntime(backend(), metrics_sink=sink) as rt:
        rt.register(make_version("v1", max_batch_size=16, batch_wait_ms="auto"))
        assert rt.wait_ready("v1", 5)
        latencies = []
        for i in range(15):
            response = rt.serve("chat", {"prompt": f"hi {i}"})
            assert response.success
            latencies.append(response.latency_ms)
        assert eventually(lambda: len(sink.batch_sizes("v1")) == 15)
        assert set(sink.batch_sizes("v1")) == {1}
        assert statistics.median(latencies) < PER_ITEM_MS + FIXED_MS + 8.0  # no wait on top of the model's 10 ms


def test_heavy_load_grows_batches_within_the_limit_and_the_fit_finds_the_cost() -> None:
    sink = RecordingSink()
    exporter = PrometheusExporter()
    with ServingRuntime(backend(), metrics_sink=sink) as rt:
        rt.add_metrics_sink(exporter)
        rt.register(make_version("v1", max_batch_size=16, batch_wait_ms="auto", max_queue=4096))
        assert rt.wait_ready("v1", 5)
        for _ in range(4):  # bursts of 64: the queue backs up and batches form
            replies = submit_many(rt, 64, timeout_ms=10_000)
            assert all(rt.await_reply(r, 10).success for r in replies)
        assert eventually(lambda: sum(sink.batch_sizes("v1")) == 256)  # the last Done may still be on its way
        sizes = sink.batch_sizes("v1")
        assert max(sizes) <= 16
        assert statistics.mean(sizes) >= 4
        _, per_item_s, fixed_s = sink.costs[-1]
        assert 0.0 <= per_item_s <= 0.010  # 1 ms, give or take a noisy scheduler (a loaded CI machine)
        assert 0.003 <= fixed_s <= 0.150  # 9 ms, plus each call's wake-up
        text = exporter.text()
        assert 'actorserve_batch_cost_seconds{model="chat",term="per_item",version="v1"}' in text
        assert 'actorserve_batch_cost_seconds{model="chat",term="fixed",version="v1"}' in text
        assert f'actorserve_batch_size_count{{model="chat",version="v1"}} {float(len(sizes))}' in text


def test_a_request_that_would_miss_its_deadline_even_alone_is_answered_at_once() -> None:
    invoker = SimulatedInvoker(latency_ms=60.0)
    with ServingRuntime(invoker) as rt:
        rt.register(make_version("v1", max_batch_size=8, batch_wait_ms="auto"))
        assert rt.wait_ready("v1", 5)
        for i in range(3):  # three measured batches: the fit is trusted
            assert rt.serve("chat", {"prompt": f"warm {i}"}).success
        response = rt.serve("chat", {"prompt": "hurry"}, timeout_ms=30)
        assert response.error_code is ErrorCode.TIMEOUT
        assert "would miss its deadline" in (response.error or "")
        assert response.latency_ms < 60  # answered before the model alone would have taken
