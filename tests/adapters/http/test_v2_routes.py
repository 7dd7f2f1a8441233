"""Triton's own client (`tritonclient[http]`) and plain httpx against the front's `/v2` routes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from actorserve.domain import ModelType
from tests.adapters.conftest import IrisModels
from tests.adapters.http.conftest import Served
from tests.fakes import make_version

tc = pytest.importorskip("tritonclient.http")


@pytest.fixture(scope="module")
def named_iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Iris with string labels: its `label` output is a BYTES tensor."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = LogisticRegression(max_iter=1000).fit(x, names)
    path = tmp_path_factory.mktemp("named") / "iris-named.onnx"
    exported = to_onnx(model, x[:1].astype("float32"), options={id(model): {"zipmap": False}})
    path.write_bytes(exported.SerializeToString())
    return path


def onnx_version(vid: str, model: str, path: Path) -> Any:
    return make_version(
        vid, model, model_type=ModelType.CUSTOM_MODEL, framework="onnx", parameters={"model_path": str(path)}
    )


@pytest.fixture
def iris_served(serve: Callable[..., Served], iris: IrisModels, named_iris: Path) -> Served:
    served = serve()
    served.add(onnx_version("iris-1", "iris", iris.onnx), onnx_version("named-1", "named", named_iris))
    return served


@pytest.fixture
def triton(iris_served: Served) -> Iterator[Any]:
    client = tc.InferenceServerClient(url=iris_served.url.removeprefix("http://"), network_timeout=10)
    yield client
    client.close()


def infer(client: Any, model: str, array: np.ndarray[Any, Any], datatype: str, outputs: list[str]) -> Any:
    tensor = tc.InferInput("X", list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=False)
    wanted = [tc.InferRequestedOutput(name, binary_data=False) for name in outputs]
    return client.infer(model, [tensor], outputs=wanted, request_id="req-7")


def test_server_live_ready_and_model_ready(triton: Any) -> None:
    assert triton.is_server_live()
    assert triton.is_server_ready()
    assert triton.is_model_ready("iris")
    assert triton.is_model_ready("iris", "iris-1")
    assert not triton.is_model_ready("nope")


def test_model_metadata_names_the_onnx_inputs_and_outputs(triton: Any) -> None:
    meta = triton.get_model_metadata("iris")
    assert meta["name"] == "iris"
    assert meta["versions"] == ["iris-1"]
    assert meta["platform"] == "onnx"
    assert meta["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    assert [(o["name"], o["datatype"]) for o in meta["outputs"]] == [("label", "INT64"), ("probabilities", "FP32")]


@pytest.mark.parametrize(("datatype", "dtype"), [("FP32", np.float32), ("FP64", np.float64), ("INT64", np.int64)])
def test_infer_gives_what_in_process_serve_gives(
    triton: Any, iris_served: Served, iris: IrisModels, datatype: str, dtype: Any
) -> None:
    rows = np.array(iris.rows, dtype=np.float64)
    array = np.round(rows) if datatype == "INT64" else rows
    array = array.astype(dtype)
    result = infer(triton, "iris", array, datatype, ["label", "probabilities"])
    local = iris_served.runtime.serve("iris", {"X": array.tolist()})
    assert local.success, local.error
    assert result.as_numpy("label").dtype == np.int64
    assert result.as_numpy("label").tolist() == local.output_data["label"]  # type: ignore[index]
    assert result.as_numpy("probabilities").dtype == np.float32
    assert result.as_numpy("probabilities").tolist() == local.output_data["probabilities"]  # type: ignore[index]
    response = result.get_response()
    assert response["id"] == "req-7"
    assert response["model_version"] == "iris-1"


def test_bytes_outputs_come_back_as_strings(triton: Any, iris_served: Served, iris: IrisModels) -> None:
    array = np.array(iris.rows, dtype=np.float32)
    result = infer(triton, "named", array, "FP32", ["label"])
    local = iris_served.runtime.serve("named", {"X": array.tolist()})
    assert [b.decode() if isinstance(b, bytes) else b for b in result.as_numpy("label").tolist()] == (
        local.output_data["label"]  # type: ignore[index]
    )
    assert set(local.output_data["label"]) == {"setosa", "versicolor", "virginica"}  # type: ignore[index]
    assert [o["name"] for o in result.get_response()["outputs"]] == ["label"]  # the outputs filter


def test_a_pinned_version_and_an_unknown_one(triton: Any, iris: IrisModels) -> None:
    array = np.array(iris.rows[:1], dtype=np.float32)
    tensor = tc.InferInput("X", [1, 4], "FP32")
    tensor.set_data_from_numpy(array, binary_data=False)
    assert triton.infer("iris", [tensor], model_version="iris-1").get_response()["model_version"] == "iris-1"
    with pytest.raises(tc.InferenceServerException) as caught:
        triton.infer("iris", [tensor], model_version="missing")
    assert caught.value.status() == "404" or "404" in str(caught.value) or "not found" in str(caught.value).lower()


# --- plain HTTP ------------------------------------------------------------------------


def test_a_tensor_whose_data_does_not_fill_its_shape_is_400_naming_it(iris_served: Served) -> None:
    body = {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [1.0, 2.0, 3.0]}]}
    r = httpx.post(f"{iris_served.url}/v2/models/iris/infer", json=body)
    assert r.status_code == 400
    assert r.json()["error"].startswith("inputs[0] (X).data: 3 elements do not fill shape [1, 4]")


def test_a_wrong_datatype_is_400_naming_the_tensor(iris_served: Served) -> None:
    body = {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "INT64", "data": [1.5, 2, 3, 4]}]}
    r = httpx.post(f"{iris_served.url}/v2/models/iris/infer", json=body)
    assert r.status_code == 400
    assert r.json()["error"].startswith("inputs[0] (X).data[0]: 1.5 is not a INT64 element")


def test_a_tensor_the_model_does_not_take_is_400_from_the_backend(iris_served: Served) -> None:
    body = {"inputs": [{"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [1.0, 2.0, 3.0]}]}
    r = httpx.post(f"{iris_served.url}/v2/models/iris/infer", json=body)
    assert r.status_code == 400
    assert "input_data.X: axis 1 is 3" in r.json()["error"]
    assert r.headers["x-actorserve-version"] == "iris-1"


def test_binary_tensors_are_refused_with_a_400_that_says_so(iris_served: Served) -> None:
    r = httpx.post(
        f"{iris_served.url}/v2/models/iris/infer", content=b"{}", headers={"Inference-Header-Content-Length": "2"}
    )
    assert r.status_code == 400
    assert "binary tensor data is not supported" in r.json()["error"]


def test_the_repository_lists_loads_and_unloads_versions(iris_served: Served, iris: IrisModels) -> None:
    url = iris_served.url
    index = httpx.post(f"{url}/v2/repository/index").json()
    assert {(e["name"], e["version"], e["state"]) for e in index} == {
        ("iris", "iris-1", "READY"),
        ("named", "named-1", "READY"),
    }
    definition = {"id": "iris-2", "framework": "onnx", "parameters": {"model_path": str(iris.onnx)}}
    loaded = httpx.post(f"{url}/v2/repository/models/iris/load", json=definition, timeout=30)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["state"] == "READY"
    assert httpx.post(f"{url}/v2/repository/models/iris/load", json=definition).status_code == 409
    bad = httpx.post(f"{url}/v2/repository/models/iris/load", json={"id": "x", "serving": {"replicas": "two"}})
    assert bad.status_code == 422
    assert bad.json()["error"].startswith("body.serving.replicas")
    gone = httpx.post(f"{url}/v2/repository/models/iris/unload", json={"version": "iris-1"})
    assert gone.json() == {"name": "iris", "unloaded": ["iris-1"]}
    assert httpx.post(f"{url}/v2/repository/models/nope/unload").status_code == 404
