"""The V2 invoker against a real MLServer (mlserver + mlserver-sklearn from PyPI)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from actorserve.actors import ServingRuntime
from actorserve.adapters.v2_invoker import V2Invoker
from actorserve.domain import ModelRequest, ModelVersion
from tests.fakes import make_version, submit_many
from tests.integration.conftest import MLServer

pytestmark = pytest.mark.integration


def version(server: MLServer, vid: str = "iris-a", **serving: Any) -> ModelVersion:
    return make_version(
        vid,
        "iris",
        framework="mlserver",
        endpoint=server.url,
        parameters={"model_name": "iris", "model_version": "v1"},
        timeout_ms=10_000,
        **serving,
    )


def test_predictions_match_scikit_learn(mlserver: MLServer) -> None:
    with ServingRuntime() as rt:
        rt.register(version(mlserver))
        assert rt.wait_ready("iris-a", timeout=30)
        response = rt.serve("iris", {"input-0": mlserver.rows})
        assert response.success, response.error
        assert response.output_data == {"predict": [[p] for p in mlserver.predict]}  # MLServer answers shape [n, 1]


def test_probabilities_on_request(mlserver: MLServer) -> None:
    inv = V2Invoker()
    v = version(mlserver)
    v.parameters["outputs"] = ["predict_proba"]
    handle = inv.load(v)
    result = inv.invoke(handle, ModelRequest("r", "iris", "iris-a", {"input-0": mlserver.rows[:5]}), 10.0)
    assert result.ok, result.error
    for got, want in zip(result.output["predict_proba"], mlserver.predict_proba[:5], strict=True):  # type: ignore[index]
        assert got == pytest.approx(want, abs=1e-9)
    inv.close()


def test_a_batch_is_one_call_and_each_request_gets_its_rows(mlserver: MLServer) -> None:
    inv = V2Invoker()
    handle = inv.load(version(mlserver))
    requests = [
        ModelRequest(f"r{i}", "iris", "iris-a", {"input-0": mlserver.rows[i * 3 : i * 3 + 3]}) for i in range(8)
    ]
    results = inv.invoke_batch(handle, requests, 10.0)
    expected = [[[p] for p in mlserver.predict[i * 3 : i * 3 + 3]] for i in range(8)]
    assert [r.output["predict"] for r in results] == expected  # type: ignore[index]
    inv.close()


def test_batched_concurrent_serving(mlserver: MLServer) -> None:
    with ServingRuntime() as rt:
        rt.register(version(mlserver, replicas=2, max_batch_size=16, batch_wait_ms=2.0))
        assert rt.wait_ready("iris-a", timeout=30)
        replies = submit_many(rt, 100, "iris", input_data={"input-0": mlserver.rows[:1]})
        responses = [rt.await_reply(r, 30.0) for r in replies]
        assert [r.error for r in responses if not r.success] == []
        assert {r.output_data["predict"][0][0] for r in responses} == {mlserver.predict[0]}  # type: ignore[index]


def test_unloading_a_version_during_200_requests_loses_none(mlserver: MLServer) -> None:
    with ServingRuntime() as rt:
        rt.register(version(mlserver, "iris-a", replicas=2, max_batch_size=4))
        assert rt.wait_ready("iris-a", timeout=30)
        results: list[bool] = []
        lock = threading.Lock()
        halfway = threading.Event()

        def client(n: int) -> None:
            for i in range(n):
                ok = rt.serve("iris", {"input-0": mlserver.rows[i % 150 : i % 150 + 1]}).success
                with lock:
                    results.append(ok)
                    if len(results) >= 60:
                        halfway.set()

        threads = [threading.Thread(target=client, args=(50,)) for _ in range(4)]
        for t in threads:
            t.start()
        assert halfway.wait(60)
        rt.register(version(mlserver, "iris-b", replicas=2, max_batch_size=4))  # the newest READY wins
        assert rt.wait_ready("iris-b", timeout=30)
        assert rt.unload("iris-a")
        for t in threads:
            t.join(120)
        assert len(results) == 200
        assert all(results), f"{results.count(False)} of 200 failed"
        assert rt.get_metrics("iris-b").total_requests > 0  # type: ignore[union-attr]
        assert rt.get_metrics("iris-a").total_requests > 0  # type: ignore[union-attr]
