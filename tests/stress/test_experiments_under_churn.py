"""Experiments under concurrent traffic while their versions are unloaded: one answer per request."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from actorserve.actors import ServingRuntime
from actorserve.adapters import SimulatedInvoker
from actorserve.domain import ErrorCode, ModelResponse, ModelType
from tests.fakes import RecordingSink, make_version

pytestmark = [pytest.mark.stress, pytest.mark.timeout(300)]

CLIENTS = 8
REQUESTS = 300


def test_experiments_answer_every_request_once_while_versions_drain(baseline_threads: set[threading.Thread]) -> None:
    sink = RecordingSink()
    rt = ServingRuntime(SimulatedInvoker(latency_ms=0.5, latency_jitter_ms=0.3, seed=9), metrics_sink=sink, seed=9)
    for vid in ("a", "b", "c", "d"):
        rt.register(
            make_version(vid, model_name="m", model_type=ModelType.CUSTOM_MODEL, replicas=2, drain_timeout_s=10)
        )
    for vid in ("a", "b", "c", "d"):
        assert rt.wait_ready(vid, 10)
    ex = rt.experiments
    ids = [
        ex.start_ab_test(["a", "b"], min_samples=10),
        ex.start_shadow("a", "c", queue_size=16),
        ex.create_ensemble(["a", "b", "d"], min_agreements=2),
        ex.start_canary("a", "d", steps=(20, 100), min_requests=50, auto_unload=False),
    ]
    results: list[list[ModelResponse]] = [[] for _ in range(CLIENTS)]
    halfway = threading.Barrier(CLIENTS + 1)

    def client(index: int) -> None:
        for i in range(REQUESTS):
            if i == REQUESTS // 2:
                halfway.wait(60)
            experiment = ids[(index + i) % len(ids)]
            results[index].append(ex.serve(experiment, {"i": i}, key=f"k{i % 13}", timeout_ms=20_000))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    halfway.wait(60)
    assert rt.unload("b")  # an A/B arm and an ensemble member
    assert rt.unload("c")  # the shadow
    for t in threads:
        t.join(240)
    assert not any(t.is_alive() for t in threads)
    reports = {eid: ex.report(eid) for eid in ids}
    rt.stop()

    flat = [r for per_client in results for r in per_client]
    assert len(flat) == CLIENTS * REQUESTS
    assert max(Counter(r.request_id for r in flat).values()) == 1
    assert max(Counter(o.request_id for _, o in sink.outcomes).values()) == 1
    codes = Counter(r.error_code for r in flat if not r.success)
    assert ErrorCode.TIMEOUT not in codes
    # requests pinned to an unloaded version: NOT_READY while it drains, NOT_FOUND once it is gone
    assert set(codes) <= {ErrorCode.NOT_READY, ErrorCode.NOT_FOUND, ErrorCode.UNAVAILABLE, ErrorCode.MODEL_ERROR}
    assert sum(r.success for r in flat) >= 0.7 * len(flat)
    ab = reports[ids[0]]
    assert ab is not None
    arms: list[dict[str, int]] = ab["arms"]  # type: ignore[assignment]
    assert sum(arm["requests"] for arm in arms) == sum(arm["assigned"] for arm in arms)
    assert rt.threads() == []
    assert set(threading.enumerate()) <= baseline_threads
