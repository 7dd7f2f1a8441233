from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from actorserve.actors import ServingRuntime
from actorserve.adapters.tfserving_invoker import TFServingInvoker
from actorserve.domain import ErrorCode, ModelLoadError, ModelRequest, ModelVersion, ServingConfig
from tests.fakes import make_version
from tests.http_servers import TFServingServer


@pytest.fixture
def server() -> Iterator[TFServingServer]:
    with TFServingServer() as s:
        yield s


def version(url: str, name: str = "half_plus_two", **parameters: object) -> ModelVersion:
    return make_version("v1", name, framework="tensorflow", endpoint=url, parameters=parameters)


def req(data: dict[str, object]) -> ModelRequest:
    return ModelRequest("r", "half_plus_two", "v1", data)


def test_row_and_columnar_forms(server: TFServingServer) -> None:
    inv = TFServingInvoker()
    handle = inv.load(version(server.url))
    assert inv.invoke(handle, req({"instances": [1.0, 2.0, 5.0]}), 1.0).output == [2.5, 3.0, 4.5]
    assert inv.invoke(handle, req({"inputs": {"x": [[2.0]]}}), 1.0).output == {"x": [[3.0]]}
    inv.close()


def test_row_form_requests_are_joined_into_one_call(server: TFServingServer) -> None:
    inv = TFServingInvoker()
    handle = inv.load(version(server.url, model_version=123))
    results = inv.invoke_batch(handle, [req({"instances": [0.0]}), req({"instances": [2.0, 4.0]})], 1.0)
    assert [r.output for r in results] == [[2.0], [3.0, 4.0]]
    predicts = server.posts(":predict")
    assert predicts[-1] == {"instances": [0.0, 2.0, 4.0]}
    assert any("/versions/123:predict" in p for _, p, _ in server.requests)
    inv.close()


def test_one_bad_instance_fails_alone(server: TFServingServer) -> None:
    inv = TFServingInvoker()
    handle = inv.load(version(server.url))
    results = inv.invoke_batch(handle, [req({"instances": [1.0]}), req({"instances": ["x"]})], 1.0)
    assert results[0].output == [2.5]
    assert results[1].error_code is ErrorCode.INVALID_INPUT
    assert "HTTP 400: Expected float" in (results[1].error or "")
    inv.close()


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({}, "needs exactly one of instances"),
        ({"instances": [1.0], "inputs": {}}, "needs exactly one of instances"),
        ({"instances": []}, "must be a non-empty list"),
        ({"instances": [math.inf]}, "not finite"),
        ({"instances": [1.0], "other": 1}, "unknown keys: other"),
    ],
)
def test_bad_requests_are_invalid_input(server: TFServingServer, data: dict[str, object], needle: str) -> None:
    inv = TFServingInvoker()
    result = inv.invoke(inv.load(version(server.url)), req(data), 1.0)
    assert result.error_code is ErrorCode.INVALID_INPUT
    assert needle in (result.error or "")
    inv.close()


def test_unknown_models_and_versions(server: TFServingServer) -> None:
    inv = TFServingInvoker()
    with pytest.raises(ModelLoadError, match="no AVAILABLE version"):
        inv.load(version(server.url, "resnet"))
    handle = inv.load(version(server.url))
    handle.predict_path = "/v1/models/half_plus_two/versions/7:predict"  # type: ignore[attr-defined]
    result = inv.invoke(handle, req({"instances": [1.0]}), 1.0)
    assert result.error_code is ErrorCode.NOT_FOUND
    inv.close()


def test_served_through_the_runtime(server: TFServingServer) -> None:
    with ServingRuntime() as rt:
        v = version(server.url)
        v.serving = ServingConfig(replicas=2, max_batch_size=8)
        rt.register(v)
        assert rt.wait_ready("v1", timeout=10)
        assert rt.serve("half_plus_two", {"instances": [4.0]}).output_data == [4.0]
        assert rt.health()["versions"]["v1"]["status"] == "ready"  # type: ignore[index]
