from __future__ import annotations

import threading
from collections.abc import Callable

from actorserve.actors import ServingRuntime
from actorserve.domain import ErrorCode, ModelStatus
from tests.fakes import FakeInvoker, RecordingSink, make_version, status

Factory = Callable[..., ServingRuntime]


def test_register_goes_loading_then_ready(runtimes: Factory) -> None:
    gate = threading.Event()
    sink = RecordingSink()
    rt = runtimes(FakeInvoker(load_gate=gate), metrics_sink=sink)
    v = make_version()
    assert rt.register(v) is True
    assert status(v) is ModelStatus.LOADING
    assert rt.serve("chat", {"prompt": "x"}).error == "Model not ready"
    gate.set()
    assert rt.wait_ready("v1", timeout=5)
    assert status(v) is ModelStatus.READY
    assert v.loaded_at is not None
    assert sink.history("v1")[:2] == [ModelStatus.LOADING, ModelStatus.READY]


def test_load_failure_retries_with_backoff_then_succeeds(runtimes: Factory) -> None:
    invoker = FakeInvoker(load_fail_times=2)
    rt = runtimes(invoker)
    rt.register(make_version(load_retries=2, load_backoff_s=0.01))
    assert rt.wait_ready("v1", timeout=5)
    assert invoker.loads == 3


def test_load_failure_past_the_retries_is_failed_with_the_error_kept(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(load_fail_times=10))
    v = make_version(load_retries=1, load_backoff_s=0.01)
    rt.register(v)
    assert rt.wait_ready("v1", timeout=5) is False
    assert status(v) is ModelStatus.FAILED
    assert v.last_error is not None
    assert "load failure 2" in v.last_error
    r = rt.serve("chat", {})
    assert (r.success, r.error_code, r.error) == (False, ErrorCode.NOT_READY, "Model not ready")


def test_ready_waits_for_all_replicas_when_configured(runtimes: Factory) -> None:
    invoker = FakeInvoker()
    rt = runtimes(invoker)
    rt.register(make_version(replicas=3, wait_for_all_replicas=True))
    assert rt.wait_ready("v1", timeout=5)
    assert invoker.loads == 3
    assert rt.get_metrics("v1").replicas_ready == 3  # type: ignore[union-attr]


def test_duplicate_version_id_is_refused(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())
    assert rt.register(make_version()) is True
    assert rt.register(make_version()) is False


def test_a_stopped_version_id_can_be_registered_again(runtimes: Factory) -> None:
    sink = RecordingSink()
    rt = runtimes(FakeInvoker(), metrics_sink=sink)
    rt.register(make_version())
    assert rt.wait_ready("v1", 5)
    assert rt.unload("v1")
    assert sink.wait_for("v1", ModelStatus.STOPPED)
    assert rt.register(make_version()) is True
    assert rt.wait_ready("v1", 5)


def test_unload_of_an_unknown_id_is_false(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())
    assert rt.unload("nope") is False
    assert rt.unload(42) is False  # type: ignore[arg-type]


def test_unload_drains_to_stopped_and_unloads_every_replica(runtimes: Factory) -> None:
    invoker = FakeInvoker()
    sink = RecordingSink()
    rt = runtimes(invoker, metrics_sink=sink)
    v = make_version(replicas=2)
    rt.register(v)
    assert rt.wait_ready("v1", 5)
    assert rt.unload("v1") is True
    assert sink.wait_for("v1", ModelStatus.STOPPED)
    assert sink.history("v1")[-2:] == [ModelStatus.DRAINING, ModelStatus.STOPPED]
    assert rt.unload("v1") is False
    rt.stop()
    assert invoker.unloads == 2


def test_wait_ready_accepts_a_model_name(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())
    rt.register(make_version("v1", "emb"))
    assert rt.wait_ready("emb", timeout=5)
    assert rt.wait_ready("unknown-model", timeout=0.1) is False


def test_wait_ready_times_out_false(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(load_gate=threading.Event()))
    rt.register(make_version())
    assert rt.wait_ready("v1", timeout=0.05) is False


def test_health_is_not_ready_with_zero_versions_and_ready_once_all_are(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())
    assert rt.health()["ready"] is False
    rt.register(make_version())
    assert rt.wait_ready("v1", 5)
    health = rt.health()
    assert health["live"] is True
    assert health["ready"] is True
    assert health["versions"]["v1"]["status"] == "ready"  # type: ignore[index]


def test_list_and_get_version_return_the_registered_objects(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())
    v1, v2 = make_version("v1"), make_version("v2", number="2.0.0")
    rt.register(v1)
    rt.register(v2)
    assert rt.list_versions() == [v1, v2]
    assert rt.get_version("v2") is v2
    assert rt.get_version("v3") is None


def test_stop_leaves_no_thread_it_started(baseline_threads: set[threading.Thread]) -> None:
    invoker = FakeInvoker(latency=0.001)
    with ServingRuntime(invoker) as rt:
        for i in range(3):
            rt.register(make_version(f"v{i}", replicas=3))
        assert rt.wait_ready("v2", 5)
        for _ in range(20):
            assert rt.serve("chat", {"prompt": "x"}).success
        assert len(rt.threads()) >= 1 + 1 + 1 + 3 * 4  # timer, router, registry, versions and workers
    assert rt.threads() == []
    assert set(threading.enumerate()) <= baseline_threads


def test_stop_is_idempotent_and_later_calls_answer_clearly() -> None:
    rt = ServingRuntime(FakeInvoker())
    rt.register(make_version())
    rt.stop()
    rt.stop()
    r = rt.serve("chat", {"prompt": "x"})
    assert (r.success, r.error_code) == (False, ErrorCode.UNAVAILABLE)
    assert rt.register(make_version("v9")) is False
    assert rt.unload("v1") is False
    assert rt.health() == {"live": False, "ready": False, "versions": {}}


def test_stop_releases_a_hanging_model_and_a_loading_one(baseline_threads: set[threading.Thread]) -> None:
    hang = FakeInvoker(gate=threading.Event())
    rt = ServingRuntime(hang)
    rt.register(make_version(drain_timeout_s=0.1))
    assert rt.wait_ready("v1", 5)
    replies = []
    t = threading.Thread(target=lambda: replies.append(rt.serve("chat", {}, timeout_ms=60_000)))
    t.start()
    assert hang.started.acquire(timeout=5)
    rt.stop(timeout=5)
    t.join(5)
    assert replies[0].error_code is ErrorCode.UNAVAILABLE
    assert set(threading.enumerate()) <= baseline_threads
