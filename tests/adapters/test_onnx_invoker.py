from __future__ import annotations

import math

import pytest

from actorserve.actors import ServingRuntime
from actorserve.adapters.onnx_invoker import OnnxInvoker
from actorserve.domain import ConfigError, ErrorCode, ModelRequest, ModelType
from actorserve.domain.ports import InvocationResult
from tests.adapters.conftest import IrisModels
from tests.fakes import make_version


def req(data: dict[str, object], rid: str = "r1") -> ModelRequest:
    return ModelRequest(rid, "iris", "v1", data)


def iris_version(path: object, **parameters: object) -> object:
    return make_version(
        "v1",
        "iris",
        model_type=ModelType.CUSTOM_MODEL,
        framework="onnx",
        parameters={"model_path": str(path), **parameters},
    )


@pytest.fixture
def loaded(iris: IrisModels) -> tuple[OnnxInvoker, object]:
    inv = OnnxInvoker()
    return inv, inv.load(iris_version(iris.onnx))  # type: ignore[arg-type]


def test_predictions_match_scikit_learn(iris: IrisModels, loaded: tuple[OnnxInvoker, object]) -> None:
    inv, handle = loaded
    result = inv.invoke(handle, req({"X": iris.rows}), 1.0)
    assert result.ok, result.error
    out = result.output
    assert isinstance(out, dict)
    assert out["label"] == iris.estimator.predict(iris.rows).tolist()
    expected = iris.estimator.predict_proba(iris.rows)
    for got_row, want_row in zip(out["probabilities"], expected, strict=True):
        assert got_row == pytest.approx(want_row.tolist(), abs=1e-5)


def test_a_batch_is_one_run_and_each_request_gets_its_own_rows(
    iris: IrisModels, loaded: tuple[OnnxInvoker, object]
) -> None:
    inv, handle = loaded
    requests = [req({"X": iris.rows[i : i + n]}, f"r{i}") for i, n in ((0, 1), (1, 3), (4, 2))]
    calls = 0
    session = handle.session  # type: ignore[attr-defined]
    real_run = session.run

    class Counting:
        def run(self, *args: object, **kwargs: object) -> object:
            nonlocal calls
            calls += 1
            return real_run(*args, **kwargs)

    handle.session = Counting()  # type: ignore[attr-defined]
    results = inv.invoke_batch(handle, requests, 1.0)
    assert calls == 1
    labels = iris.estimator.predict(iris.rows).tolist()
    assert [r.output["label"] for r in results] == [labels[0:1], labels[1:4], labels[4:6]]  # type: ignore[index]


def test_one_invalid_request_does_not_spoil_its_batch(iris: IrisModels, loaded: tuple[OnnxInvoker, object]) -> None:
    inv, handle = loaded
    results = inv.invoke_batch(
        handle, [req({"X": iris.rows[:2]}), req({"X": [[1.0, 2.0]]}), req({"X": iris.rows[2:3]})], 1.0
    )
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error_code is ErrorCode.INVALID_INPUT
    assert "axis 1 is 2" in (results[1].error or "")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"Y": [[1.0, 2.0, 3.0, 4.0]]}, "input_data.Y: not an input of the model (inputs: X)"),
        ({}, "input_data.X: missing"),
        ({"X": [1.0, 2.0, 3.0, 4.0]}, "rank 1"),
        ({"X": [[1.0, 2.0], [3.0]]}, "input_data.X: not a rectangular"),
        ({"X": [["a", "b", "c", "d"]]}, "got strings"),
        ({"X": [[math.nan, 1.0, 1.0, 1.0]]}, "NaN or infinity"),
        ({"X": [[math.inf, 1.0, 1.0, 1.0]]}, "NaN or infinity"),
        ({"X": [[None, 1.0, 1.0, 1.0]]}, "input_data.X"),
    ],
)
def test_inputs_are_checked_against_the_model(
    loaded: tuple[OnnxInvoker, object], data: dict[str, object], needle: str
) -> None:
    inv, handle = loaded
    result = inv.invoke(handle, req(data), 1.0)
    assert result.error_code is ErrorCode.INVALID_INPUT
    assert needle in (result.error or "")


def test_nonfinite_values_pass_when_the_version_allows_them(iris: IrisModels) -> None:
    inv = OnnxInvoker()
    handle = inv.load(iris_version(iris.onnx, allow_nonfinite=True))  # type: ignore[arg-type]
    assert inv.invoke(handle, req({"X": [[math.nan, 1.0, 1.0, 1.0]]}), 1.0).ok


def test_zipmap_outputs_become_plain_dicts(iris: IrisModels) -> None:
    inv = OnnxInvoker()
    handle = inv.load(iris_version(iris.onnx_zipmap))  # type: ignore[arg-type]
    results = inv.invoke_batch(handle, [req({"X": iris.rows[:1]}), req({"X": iris.rows[1:3]})], 1.0)
    probs = results[1].output["output_probability"]  # type: ignore[index]
    assert len(probs) == 2
    assert set(probs[0]) == {"0", "1", "2"}
    assert sum(probs[0].values()) == pytest.approx(1.0, abs=1e-5)


def test_load_errors_name_the_problem(iris: IrisModels, tmp_path: object) -> None:
    inv = OnnxInvoker()
    with pytest.raises(ConfigError, match="parameters.model_path: missing"):
        inv.load(make_version(framework="onnx"))
    with pytest.raises(Exception, match="no such file"):
        inv.load(iris_version("/nonexistent/model.onnx"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="intra_op_threads"):
        OnnxInvoker(intra_op_threads=-1)


def test_a_missing_extra_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError, match=r"onnxruntime is not installed; pip install 'actorserve\[onnx\]'"):
        OnnxInvoker()


def test_close_fails_later_runs_instead_of_hanging(iris: IrisModels, loaded: tuple[OnnxInvoker, object]) -> None:
    inv, handle = loaded
    inv.close()
    result = inv.invoke(handle, req({"X": iris.rows[:1]}), 1.0)
    assert result.error_code is ErrorCode.UNAVAILABLE
    assert not inv.health(handle)


def test_the_runtime_serves_an_onnx_version_chosen_by_framework(iris: IrisModels) -> None:
    with ServingRuntime() as rt:
        v = iris_version(iris.onnx)
        v.serving = type(v.serving)(replicas=2, max_batch_size=8, batch_wait_ms=1.0)  # type: ignore[attr-defined]
        assert rt.register(v)  # type: ignore[arg-type]
        assert rt.wait_ready("v1", timeout=30)
        responses = [rt.serve("iris", {"X": [row]}) for row in iris.rows]
        assert all(r.success for r in responses), responses[0].error
        assert [r.output_data["label"][0] for r in responses] == iris.estimator.predict(iris.rows).tolist()  # type: ignore[index]
        bad = rt.serve("iris", {"X": [[1.0]]})
        assert bad.error_code is ErrorCode.INVALID_INPUT


def test_results_are_invocation_results(iris: IrisModels, loaded: tuple[OnnxInvoker, object]) -> None:
    inv, handle = loaded
    assert isinstance(inv.invoke(handle, req({"X": iris.rows[:1]}), 1.0), InvocationResult)
