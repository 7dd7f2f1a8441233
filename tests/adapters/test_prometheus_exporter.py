from __future__ import annotations

import threading

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from actorserve.actors import ServingRuntime
from actorserve.adapters.prometheus_exporter import PrometheusExporter
from actorserve.adapters.simulated import SimulatedInvoker
from actorserve.domain import ModelStatus, ModelType
from tests.fakes import FakeInvoker, RecordingSink, make_version, submit_many


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """`/metrics` over HTTP, parsed: (sample name, sorted labels) → value."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def labels(model: str, version: str, **more: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"model": model, "version": version, **more}.items()))


def test_scraped_metrics_count_requests_errors_latency_tokens_and_status() -> None:
    invoker = SimulatedInvoker(seed=1)
    with ServingRuntime(invoker) as rt:
        port = rt.serve_metrics(0)
        rt.register(make_version("good", "chat", replicas=2))
        rt.register(make_version("bad", "other", parameters={"error_rate": 1.0}))
        assert rt.wait_ready("good", 5)
        assert rt.wait_ready("bad", 5)
        for i in range(20):
            assert rt.serve("chat", {"prompt": f"hello {i}"}).success
        for _ in range(5):
            assert not rt.serve("other", {"prompt": "x"}).success
        m = scrape(port)
        good, bad = labels("chat", "good"), labels("other", "bad")
        assert m[("actorserve_requests_total", good)] == 20
        assert m[("actorserve_requests_total", bad)] == 5
        assert m[("actorserve_request_errors_total", labels("other", "bad", code="model_error"))] == 5
        assert m[("actorserve_request_duration_seconds_count", good)] == 20
        assert m[("actorserve_request_duration_seconds_bucket", labels("chat", "good", le="+Inf"))] == 20
        assert m[("actorserve_tokens_total", good)] == rt.get_metrics("good").tokens_processed  # type: ignore[union-attr]
        assert m[("actorserve_version_status", labels("chat", "good", status="ready"))] == 1
        assert m[("actorserve_version_status", labels("chat", "good", status="loading"))] == 0
        assert m[("actorserve_replicas_ready", good)] == 2
        assert m[("actorserve_model_load_duration_seconds_count", good)] == 2
        assert m[("actorserve_queue_depth", good)] == 0
        rt.unload("good")
        m = scrape(port)
        assert m[("actorserve_version_status", labels("chat", "good", status="stopped"))] == 1
        assert m[("actorserve_replicas_ready", good)] == 0


def test_queue_depth_and_in_flight_follow_the_version() -> None:
    gate = threading.Event()
    sink = RecordingSink()
    with ServingRuntime(FakeInvoker(gate=gate), metrics_sink=sink) as rt:
        port = rt.serve_metrics(0)
        rt.register(make_version("v1", replicas=1, max_concurrency=1, max_queue=50))
        assert rt.wait_ready("v1", 5)
        replies = submit_many(rt, 6)
        assert sink.wait_gauges("v1", lambda q, f, r: q == 5 and f == 1)
        m = scrape(port)
        assert m[("actorserve_queue_depth", labels("chat", "v1"))] == 5
        assert m[("actorserve_in_flight_requests", labels("chat", "v1"))] == 1
        gate.set()
        assert all(rt.await_reply(r, 5).success for r in replies)
        assert sink.wait_gauges("v1", lambda q, f, r: q == 0 and f == 0)
        m = scrape(port)
        assert m[("actorserve_queue_depth", labels("chat", "v1"))] == 0
        assert m[("actorserve_in_flight_requests", labels("chat", "v1"))] == 0


def test_versions_registered_before_the_endpoint_starts_are_seeded() -> None:
    with ServingRuntime(FakeInvoker()) as rt:
        rt.register(make_version("early", model_type=ModelType.CUSTOM_MODEL, replicas=3))
        assert rt.wait_ready("early", 5)
        port = rt.serve_metrics(0)
        m = scrape(port)
        assert m[("actorserve_version_status", labels("chat", "early", status=ModelStatus.READY.value))] == 1
        assert m[("actorserve_replicas_ready", labels("chat", "early"))] == 3


def test_stop_closes_the_endpoint_and_leaves_no_thread(baseline_threads: set[threading.Thread]) -> None:
    rt = ServingRuntime(FakeInvoker())
    port = rt.serve_metrics(0)
    assert "actorserve_requests" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    rt.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    assert [t for t in threading.enumerate() if t not in baseline_threads and t.is_alive()] == []


def test_exporters_have_registries_of_their_own() -> None:
    a, b = PrometheusExporter(), PrometheusExporter()
    v = make_version()
    a.replica_loaded(v, 0.5)
    assert "actorserve_model_load_duration_seconds_count" in a.text()
    assert 'actorserve_model_load_duration_seconds_count{model="chat",version="v1"} 1.0' not in b.text()


def test_an_unknown_exporter_is_named() -> None:
    from actorserve.domain import ConfigError

    with ServingRuntime(FakeInvoker()) as rt, pytest.raises(ConfigError, match="exporter: unknown 'statsd'"):
        rt.serve_metrics(0, exporter="statsd")


def test_a_taken_port_leaves_no_exporter_attached_and_a_stopped_runtime_refuses() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        rt = ServingRuntime(FakeInvoker())
        with pytest.raises(OSError, match=r"[Aa]ddress"):
            rt.serve_metrics(taken.getsockname()[1])
        assert not rt._sinks.active  # nothing listening, so versions skip building events
        rt.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        rt.serve_metrics(0)


def test_state_store_flushes_show_as_pending_duration_and_errors() -> None:
    exporter = PrometheusExporter()
    exporter.state_flushed("redis", 0.004, 0, True)
    exporter.state_flushed("redis", 0.0, 12, False)
    samples = {}
    for family in text_string_to_metric_families(exporter.text()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    backend = (("backend", "redis"),)
    assert samples[("actorserve_state_pending_events", backend)] == 12
    assert samples[("actorserve_state_flush_duration_seconds_count", backend)] == 1
    assert samples[("actorserve_state_errors_total", backend)] == 1
