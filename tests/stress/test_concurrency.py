"""16 clients x 500 requests against 4 live versions while others register, swap and unload."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from actorserve.actors import ServingRuntime
from actorserve.adapters import SimulatedInvoker
from actorserve.domain import ErrorCode, ModelResponse, ModelStatus, RoutingStrategy
from tests.fakes import RecordingSink, make_version

CLIENTS = 16
REQUESTS = 500

pytestmark = [pytest.mark.stress, pytest.mark.timeout(300)]


def test_churn_under_load_answers_every_request_once_and_only_from_ready_versions(
    baseline_threads: set[threading.Thread],
) -> None:
    sink = RecordingSink()
    rt = ServingRuntime(SimulatedInvoker(latency_ms=0.5, latency_jitter_ms=0.3, seed=1), metrics_sink=sink)
    serial = 0

    def new_version() -> str:
        nonlocal serial
        serial += 1
        vid = f"v{serial}"
        batching = serial % 2 == 0
        assert rt.register(
            make_version(
                vid,
                number=f"{serial}.0.0",
                replicas=2,
                max_queue=4096,
                max_batch_size=8 if batching else 1,
                batch_wait_ms=1.0 if batching else 0.0,
                drain_timeout_s=10.0,
            )
        )
        return vid

    live = [new_version() for _ in range(4)]
    for vid in live:
        assert rt.wait_ready(vid, 10)
    rt.set_routing("chat", RoutingStrategy.ROUND_ROBIN)

    results: list[list[tuple[float, float, ModelResponse]]] = [[] for _ in range(CLIENTS)]
    prompts: dict[str, str] = {}
    clients_done = threading.Event()
    churn_errors: list[BaseException] = []

    def client(index: int) -> None:
        rng = random.Random(index)
        for i in range(REQUESTS):
            sent = time.monotonic()
            key = f"user-{rng.randrange(50)}" if i % 3 == 0 else None
            prompt = f"c{index}-{i}"
            response = rt.serve("chat", {"prompt": prompt}, key=key, timeout_ms=20_000)
            results[index].append((sent, time.monotonic(), response))
            prompts[response.request_id] = prompt

    def churn() -> None:
        try:
            while not clients_done.is_set():
                vid = new_version()
                if not rt.wait_ready(vid, 10):
                    raise AssertionError(f"{vid} never became READY")
                live.append(vid)
                old = live.pop(0)
                assert rt.unload(old)
                clients_done.wait(0.02)
        except BaseException as exc:
            churn_errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    churner = threading.Thread(target=churn)
    churner.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    clients_done.set()
    churner.join(60)
    assert not churn_errors
    assert not any(t.is_alive() for t in [*threads, churner])
    rt.stop()

    flat = [entry for per_client in results for entry in per_client]
    assert len(flat) == CLIENTS * REQUESTS

    # exactly one answer per request
    ids = Counter(r.request_id for _, _, r in flat)
    assert max(ids.values()) == 1
    recorded = Counter(o.request_id for _, o in sink.outcomes)
    assert max(recorded.values()) == 1
    successes = [(sent, got, r) for sent, got, r in flat if r.success]
    assert all(recorded[r.request_id] == 1 for _, _, r in successes)

    # nothing lost, nothing timed out; the only failures are the honest churn ones
    codes = Counter(r.error_code for _, _, r in flat if not r.success)
    assert ErrorCode.TIMEOUT not in codes
    assert set(codes) <= {ErrorCode.UNAVAILABLE, ErrorCode.NOT_READY}
    assert len(successes) >= 0.99 * len(flat)

    # only READY versions did work: READY before the answer, and the request sent before it STOPPED
    for sent, got, r in successes:
        ready_at = sink.first(r.version_id, ModelStatus.READY)
        stopped_at = sink.first(r.version_id, ModelStatus.STOPPED)
        assert ready_at is not None
        assert ready_at <= got
        assert stopped_at is None or sent <= stopped_at
        # and each caller got the answer to its own prompt
        assert r.output_data["text"] == f"Generated response for: {prompts[r.request_id]}"  # type: ignore[index]

    print(f"versions used: {serial}, failures: {dict(codes)}")
    assert serial > 5  # the churn really swapped versions during the run
    assert rt.threads() == []
    assert set(threading.enumerate()) <= baseline_threads
