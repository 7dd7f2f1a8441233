from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from actorserve.actors import ServingRuntime
from actorserve.adapters.sklearn_invoker import SklearnInvoker
from actorserve.domain import ConfigError, ErrorCode, ModelLoadError, ModelRequest, ModelVersion
from tests.adapters.conftest import IrisModels
from tests.fakes import make_version


def req(data: dict[str, object]) -> ModelRequest:
    return ModelRequest("r1", "iris", "v1", data)


def version(path: Path, **parameters: object) -> ModelVersion:
    return make_version("v1", "iris", framework="sklearn", parameters={"model_path": str(path), **parameters})


def test_skops_models_predict_like_scikit_learn(iris: IrisModels) -> None:
    inv = SklearnInvoker()
    handle = inv.load(version(iris.skops))
    result = inv.invoke(handle, req({"instances": iris.rows}), 1.0)
    assert result.ok, result.error
    assert result.output["predict"] == iris.estimator.predict(iris.rows).tolist()  # type: ignore[index]
    assert result.output["predict_proba"] == iris.estimator.predict_proba(iris.rows).tolist()  # type: ignore[index]


def test_outputs_can_be_chosen(iris: IrisModels) -> None:
    inv = SklearnInvoker()
    handle = inv.load(version(iris.skops, outputs=["predict"]))
    output = inv.invoke(handle, req({"X": iris.rows}), 1.0).output
    assert isinstance(output, dict)
    assert set(output) == {"predict"}
    with pytest.raises(ConfigError, match="parameters.outputs"):
        inv.validate(version(iris.skops, outputs=["transform"]))


def test_untrusted_types_are_refused_until_listed(iris: IrisModels) -> None:
    inv = SklearnInvoker()
    with pytest.raises(ModelLoadError, match=r"not trusted: sklearn\.tree\._tree\.Tree"):
        inv.load(version(iris.skops_forest))
    handle = inv.load(version(iris.skops_forest, trusted_types=["sklearn.tree._tree.Tree"]))
    assert inv.invoke(handle, req({"X": iris.rows[:2]}), 1.0).ok
    trusting = SklearnInvoker(trusted_types=["sklearn.tree._tree.Tree"])
    assert trusting.health(trusting.load(version(iris.skops_forest)))


def test_pickle_files_are_refused_without_allow_pickle(iris: IrisModels) -> None:
    inv = SklearnInvoker()
    with pytest.raises(
        ConfigError, match="parameters.allow_pickle: iris.joblib is a pickle file, which runs arbitrary code"
    ):
        inv.load(version(iris.joblib))
    with ServingRuntime() as rt, pytest.raises(ConfigError, match="allow_pickle"):
        rt.register(version(iris.joblib))


def test_allowed_pickle_loads_with_a_warning_naming_the_risk(
    iris: IrisModels, caplog: pytest.LogCaptureFixture
) -> None:
    inv = SklearnInvoker()
    with caplog.at_level(logging.WARNING):
        handle = inv.load(version(iris.joblib, allow_pickle=True))
    assert any("runs any code the file contains" in r.getMessage() for r in caplog.records)
    assert inv.invoke(handle, req({"X": iris.rows[:1]}), 1.0).ok


def test_a_batch_is_one_predict_and_bad_requests_answer_alone(iris: IrisModels) -> None:
    inv = SklearnInvoker()
    handle = inv.load(version(iris.skops))
    results = inv.invoke_batch(
        handle,
        [req({"X": iris.rows[:2]}), req({"X": [[1.0, 2.0]]}), req({"X": iris.rows[2:5]}), req({"X": [[math.nan] * 4]})],
        1.0,
    )
    assert [r.ok for r in results] == [True, False, True, False]
    assert "rows have 2 features, the model expects 4" in (results[1].error or "")
    assert "NaN or infinity" in (results[3].error or "")
    labels = iris.estimator.predict(iris.rows).tolist()
    assert results[2].output["predict"] == labels[2:5]  # type: ignore[index]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({}, "input_data: expected one key of instances, X, inputs"),
        ({"X": [1.0, 2.0, 3.0, 4.0]}, "must be a list of rows (2-D)"),
        ({"X": [[1.0, 2.0, 3.0, 4.0], [1.0]]}, "input_data.X"),
        ({"X": [[1.0, None, 3.0, 4.0]]}, "input_data.X"),
    ],
)
def test_bad_rows_are_invalid_input(iris: IrisModels, data: dict[str, object], needle: str) -> None:
    inv = SklearnInvoker()
    result = inv.invoke(inv.load(version(iris.skops)), req(data), 1.0)
    assert result.error_code is ErrorCode.INVALID_INPUT
    assert needle in (result.error or "")


def test_estimator_errors_are_model_errors(iris: IrisModels) -> None:
    inv = SklearnInvoker()
    handle = inv.load(version(iris.skops))
    result = inv.invoke(handle, req({"X": [["a", "b", "c", "d"]]}), 1.0)
    assert result.error_code is ErrorCode.MODEL_ERROR


def test_serves_through_the_runtime_with_batching(iris: IrisModels) -> None:
    from actorserve.domain import ServingConfig

    with ServingRuntime() as rt:
        v = version(iris.skops)
        v.serving = ServingConfig(max_batch_size=16, batch_wait_ms=2.0)
        rt.register(v)
        assert rt.wait_ready("iris", timeout=30)
        from tests.fakes import submit_many

        replies = submit_many(rt, 40, "iris", input_data={"X": iris.rows[:1]})
        responses = [rt.await_reply(r, 10.0) for r in replies]
        assert all(r.success for r in responses)
        assert {r.output_data["predict"][0] for r in responses} == {iris.estimator.predict(iris.rows[:1])[0]}  # type: ignore[index]
