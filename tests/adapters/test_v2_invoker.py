from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from actorserve.actors import ServingRuntime
from actorserve.adapters.v2_invoker import V2Invoker
from actorserve.domain import ConfigError, ErrorCode, ModelLoadError, ModelRequest, ModelVersion, ServingConfig
from tests.fakes import eventually, make_version
from tests.http_servers import V2Server, free_port


@pytest.fixture
def server() -> Iterator[V2Server]:
    with V2Server() as s:
        yield s


def version(url: str, model: str = "double", **parameters: object) -> ModelVersion:
    return make_version("v1", model, framework="v2", endpoint=url, parameters=parameters, timeout_ms=2000)


def req(data: dict[str, object], rid: str = "r1") -> ModelRequest:
    return ModelRequest(rid, "m", "v1", data)


def test_tensors_go_out_with_shape_and_datatype_and_come_back_nested(server: V2Server) -> None:
    inv = V2Invoker()
    handle = inv.load(version(server.url))
    result = inv.invoke(handle, req({"x": [[1, 2], [3, 4]]}), 2.0)
    assert result.ok, result.error
    assert result.output == {"doubled": [[2, 4], [6, 8]]}
    sent = server.posts("/infer")[-1]["inputs"][0]
    assert sent == {"name": "x", "shape": [2, 2], "datatype": "INT64", "data": [1, 2, 3, 4]}
    inv.close()


def test_datatypes_can_be_set_per_tensor_and_native_v2_inputs_pass_through(server: V2Server) -> None:
    inv = V2Invoker()
    handle = inv.load(version(server.url, datatypes={"x": "FP32"}))
    inv.invoke(handle, req({"x": [[1, 2]]}), 2.0)
    assert server.posts("/infer")[-1]["inputs"][0]["datatype"] == "FP32"
    native: dict[str, object] = {
        "inputs": [{"name": "y", "shape": [1, 3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}]
    }
    assert inv.invoke(handle, req(native), 2.0).output == {"doubled": [[2.0, 4.0, 6.0]]}
    inv.close()


def test_a_batch_is_one_call_split_back_by_rows(server: V2Server) -> None:
    inv = V2Invoker()
    handle = inv.load(version(server.url, "rowsum"))
    requests = [req({"x": [[1.0, 1.0]]}, "a"), req({"x": [[2.0, 2.0], [3.0, 3.0]]}, "b"), req({"x": [[4.0, 4.0]]}, "c")]
    before = len(server.posts("/infer"))
    results = inv.invoke_batch(handle, requests, 2.0)
    assert len(server.posts("/infer")) == before + 1
    assert [r.output for r in results] == [{"sum": [2.0]}, {"sum": [4.0, 6.0]}, {"sum": [8.0]}]
    inv.close()


def test_outputs_that_are_not_per_row_fall_back_to_one_call_each(server: V2Server) -> None:
    inv = V2Invoker()
    handle = inv.load(version(server.url, "total"))
    results = inv.invoke_batch(handle, [req({"x": [[1.0]]}), req({"x": [[2.0], [3.0]]})], 2.0)
    assert [r.output for r in results] == [{"total": [1.0]}, {"total": [5.0]}]
    inv.close()


@pytest.mark.parametrize(
    ("model", "code", "needle"),
    [
        ("fail", ErrorCode.MODEL_ERROR, "HTTP 500: model exploded"),
        ("html", ErrorCode.MODEL_ERROR, "HTTP 500: <html><body><h1>502 Bad Gateway"),
        ("busy", ErrorCode.OVERLOADED, "HTTP 429"),
        ("down", ErrorCode.OVERLOADED, "HTTP 503: model is reloading"),
        ("missing", ErrorCode.NOT_FOUND, "HTTP 404"),
    ],
)
def test_http_errors_become_error_codes(server: V2Server, model: str, code: ErrorCode, needle: str) -> None:
    inv = V2Invoker()
    handle = inv.load(version(server.url, "double"))
    handle.infer_path = f"/v2/models/{model}/infer"  # type: ignore[attr-defined]
    result = inv.invoke(handle, req({"x": [1.0]}), 2.0)
    assert result.error_code is code
    assert needle in (result.error or "")
    inv.close()


def test_a_slow_server_is_a_timeout(server: V2Server) -> None:
    inv = V2Invoker()
    handle = inv.load(version(server.url, "slow"))
    result = inv.invoke(handle, req({"x": [1.0]}), 0.2)
    assert result.error_code is ErrorCode.TIMEOUT
    inv.close()


def test_a_refused_connection_is_unavailable() -> None:
    inv = V2Invoker()
    with V2Server() as s:
        handle = inv.load(version(s.url))
    result = inv.invoke(handle, req({"x": [1.0]}), 1.0)
    assert result.error_code is ErrorCode.UNAVAILABLE
    assert not inv.health(handle)
    with pytest.raises(ModelLoadError, match="not ready"):
        inv.load(version(f"http://127.0.0.1:{free_port()}"))
    inv.close()


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({}, "input_data: needs at least one tensor"),
        ({"x": [[1, 2], [3]]}, "input_data.x[1]: ragged"),
        ({"x": [1, "a"]}, "input_data.x: mixes BYTES and INT64"),
        ({"x": [1.0, math.nan]}, "input_data.x[1]: nan is not finite"),
        ({"x": [None]}, "NoneType is not a tensor element"),
        (
            {"inputs": [{"name": "y", "shape": [3], "datatype": "FP32", "data": [1.0]}]},
            "1 elements do not fill shape [3]",
        ),
        ({"inputs": [{"name": "y", "shape": [1], "datatype": "FP99", "data": [1.0]}]}, "unknown datatype 'FP99'"),
        ({"inputs": [{"name": "y"}]}, "needs name, shape, datatype and data"),
    ],
)
def test_bad_tensors_are_invalid_input_and_never_sent(server: V2Server, data: dict[str, object], needle: str) -> None:
    inv = V2Invoker()
    handle = inv.load(version(server.url))
    before = len(server.posts("/infer"))
    result = inv.invoke(handle, req(data), 1.0)
    assert result.error_code is ErrorCode.INVALID_INPUT
    assert needle in (result.error or "")
    assert len(server.posts("/infer")) == before
    inv.close()


def test_api_keys_are_sent_but_never_appear_in_errors(server: V2Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_V2_TOKEN", "sk-very-secret-token-123")
    inv = V2Invoker()
    handle = inv.load(version(server.url, "double", api_key_env="TEST_V2_TOKEN"))
    handle.infer_path = "/v2/models/echo-auth/infer"  # type: ignore[attr-defined]
    result = inv.invoke(handle, req({"x": [1.0]}), 1.0)
    assert result.error_code is ErrorCode.INVALID_INPUT
    assert "Bearer ***" in (result.error or "")
    assert "sk-very-secret" not in (result.error or "")
    with pytest.raises(ConfigError, match="parameters.api_key_env: environment variable 'NOPE_UNSET' is not set"):
        inv.validate(version(server.url, api_key_env="NOPE_UNSET"))
    inv.close()


def test_bad_parameters_are_named_at_register(server: V2Server) -> None:
    with ServingRuntime() as rt:
        with pytest.raises(ConfigError, match="endpoint: missing"):
            rt.register(make_version(framework="v2"))
        with pytest.raises(ConfigError, match="endpoint: must start with http"):
            rt.register(make_version(framework="v2", endpoint="ftp://x"))
        with pytest.raises(ConfigError, match="parameters.datatypes.x"):
            rt.register(version(server.url, datatypes={"x": "FLOAT"}))


def test_a_version_waits_for_its_model_to_become_ready(server: V2Server) -> None:
    with ServingRuntime() as rt:
        v = version(server.url, "late")
        v.serving = ServingConfig(load_retries=50, load_backoff_s=0.02)
        rt.register(v)
        assert not rt.wait_ready("v1", timeout=0.1)
        assert eventually(lambda: "not ready" in (rt.get_version("v1").last_error or ""))  # type: ignore[union-attr]
        server.ready_late.set()
        assert rt.wait_ready("v1", timeout=10)


def test_after_close_calls_fail_at_once_and_a_call_in_flight_ends_by_its_deadline(server: V2Server) -> None:
    import threading

    inv = V2Invoker()
    handle = inv.load(version(server.url, "slow"))
    results = []
    t = threading.Thread(target=lambda: results.append(inv.invoke(handle, req({"x": [1.0]}), 0.5)))
    t.start()
    while not server.posts("/infer"):
        t.join(0.01)
    inv.close()
    t.join(5)
    assert not t.is_alive()
    assert results[0].error_code in (ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE)
    assert inv.invoke(handle, req({"x": [1.0]}), 5.0).error_code is ErrorCode.UNAVAILABLE
    with pytest.raises(Exception, match="closed"):
        inv.load(version(server.url))


def test_request_parameters_travel_in_the_body_and_split_batches(server: V2Server) -> None:
    inv = V2Invoker()
    handle = inv.load(version(server.url, "rowsum"))
    a = ModelRequest("a", "m", "v1", {"x": [[1.0]]}, parameters={"threshold": 0.5})
    b = ModelRequest("b", "m", "v1", {"x": [[2.0]]}, parameters={"threshold": 0.9})
    c = ModelRequest("c", "m", "v1", {"x": [[3.0]]}, parameters={"threshold": 0.5})
    before = len(server.posts("/infer"))
    results = inv.invoke_batch(handle, [a, b, c], 2.0)
    sent = server.posts("/infer")[before:]
    assert len(sent) == 2
    assert sorted(body["parameters"]["threshold"] for body in sent) == [0.5, 0.9]
    assert [r.output for r in results] == [{"sum": [1.0]}, {"sum": [2.0]}, {"sum": [3.0]}]
    inv.close()
