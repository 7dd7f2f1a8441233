"""The upstream ModelServingInfrastructure surface, as older host code uses it."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest

from actorserve.actors import ModelServingInfrastructure, get_model_serving_infrastructure
from actorserve.adapters import SimulatedInvoker
from actorserve.domain import (
    ABTestConfig,
    ErrorCode,
    InvocationResult,
    ModelRequest,
    ModelStatus,
    ModelType,
    ModelVersion,
)
from tests.fakes import FakeInvoker, make_version, status


@pytest.fixture
def infra() -> Iterator[ModelServingInfrastructure]:
    facade = ModelServingInfrastructure(SimulatedInvoker(latency_ms=1.0, seed=3), seed=3)
    yield facade
    facade.stop()


def upstream_version(vid: str, name: str = "chat", number: str = "1.0.0") -> ModelVersion:
    return ModelVersion(
        version_id=vid,
        model_name=name,
        version_number=number,
        model_type=ModelType.LANGUAGE_MODEL,
        status=ModelStatus.LOADING,
    )


def ready(infra: ModelServingInfrastructure, *vids: str) -> None:
    for vid in vids:
        assert infra.runtime.wait_ready(vid, 5)


@pytest.mark.slow
def test_default_facade_is_observably_loading_then_ready_within_three_seconds() -> None:
    facade = ModelServingInfrastructure()
    try:
        v = upstream_version("v1")
        assert facade.register_model(v) is True
        assert status(v) is ModelStatus.LOADING
        r = facade.serve_request("chat", {"prompt": "hi"})
        assert (r.success, r.error) == (False, "Model not ready")
        assert facade.runtime.wait_ready("v1", 3.0)
        assert status(v) is ModelStatus.READY
        r = facade.serve_request("chat", {"prompt": "hello there"})
        assert r.success
        assert isinstance(r.output_data, dict)
        assert "hello there" in r.output_data["text"]
        assert r.latency_ms > 0
    finally:
        facade.stop()


def test_register_duplicate_unload_and_status(infra: ModelServingInfrastructure) -> None:
    v = upstream_version("v1")
    assert infra.register_model(v) is True
    assert infra.register_model(upstream_version("v1")) is False
    ready(infra, "v1")
    assert infra.get_model_status("v1") is v
    assert infra.list_models() == [v]
    assert infra.unload_model("v1") is True
    assert infra.unload_model("ghost") is False
    assert infra.get_model_status("ghost") is None


def test_serve_request_on_a_pinned_version_and_on_the_newest(infra: ModelServingInfrastructure) -> None:
    infra.register_model(upstream_version("v1", number="1.0.0"))
    infra.register_model(upstream_version("v2", number="2.0.0"))
    ready(infra, "v1", "v2")
    assert infra.serve_request("chat", {"prompt": "x"}).version_id == "v2"
    assert infra.serve_request("chat", {"prompt": "x"}, version_id="v1").version_id == "v1"
    r = infra.serve_request("chat", {"prompt": "x"}, parameters={"temperature": 0.1})
    assert r.output_data["version"] == "2.0.0"  # type: ignore[index]


def test_ab_test_surface_keeps_upstream_shapes(infra: ModelServingInfrastructure) -> None:
    infra.register_model(upstream_version("a"))
    infra.register_model(upstream_version("b", number="2"))
    ready(infra, "a", "b")
    test_id = infra.start_ab_test("a", "b", split_percentage=50.0)
    seen = {infra.serve_ab_test_request(test_id, {"prompt": str(i)}).version_id for i in range(60)}
    assert seen == {"a", "b"}
    status = infra.get_ab_test_status(test_id)
    assert isinstance(status, ABTestConfig)
    assert (status.model_a_percentage, status.model_b_percentage) == (50.0, 50.0)
    result = infra.analyze_ab_test(test_id)
    assert set(result) >= {"test_id", "winner", "model_a_metrics", "model_b_metrics", "duration"}
    for arm in ("model_a_metrics", "model_b_metrics"):
        assert set(result[arm]) >= {"total_requests", "avg_latency", "total_cost"}
    assert result["model_a_metrics"]["total_requests"] + result["model_b_metrics"]["total_requests"] == 60
    assert result["winner"] in ("A", "B", None)
    assert result["reason"]
    assert result["analysis"]["comparisons"]["latency"][0]["p_value"] is not None
    assert infra.analyze_ab_test("nope") == {"error": "Test not found"}
    with pytest.raises(ValueError, match="not found"):
        infra.serve_ab_test_request("nope", {})


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("a", "b", 150.0), "split_percentage"),
        (("a", "b", -1.0), "split_percentage"),
        (("a", "a"), "arms"),
        (("a", "ghost"), "arms"),
        (("a", "b", 50.0, 0), "duration_hours"),
    ],
)
def test_bad_ab_tests_are_refused_naming_the_field(
    infra: ModelServingInfrastructure, args: tuple[object, ...], field: str
) -> None:
    infra.register_model(upstream_version("a"))
    infra.register_model(upstream_version("b", number="2"))
    with pytest.raises(ValueError, match=rf"^{field}"):
        infra.start_ab_test(*args)  # type: ignore[arg-type]
    assert infra.runtime.experiments.list() == {}


def test_shadow_returns_the_primary_answer_and_records_comparisons(infra: ModelServingInfrastructure) -> None:
    infra.register_model(upstream_version("p"))
    infra.register_model(upstream_version("s", name="chat-next"))
    ready(infra, "p", "s")
    shadow_id = infra.start_shadow_deployment("p", "s", traffic_percentage=100.0)
    for i in range(5):
        r = infra.serve_with_shadow(shadow_id, {"prompt": str(i)})
        assert r.version_id == "p"
    stats = infra.get_shadow_deployment_stats(shadow_id)
    assert stats is not None
    assert set(stats) >= {"shadow_id", "primary_model", "shadow_model", "comparisons_count", "recent_comparisons"}
    assert (stats["primary_model"], stats["shadow_model"]) == ("p", "s")
    assert infra.get_shadow_deployment_stats("nope") is None
    with pytest.raises(ValueError, match="not found"):
        infra.serve_with_shadow("nope", {})


def test_a_hanging_shadow_never_delays_the_primary() -> None:
    gate = threading.Event()

    class HangOnShadow(FakeInvoker):
        def invoke_batch(
            self, handle: object, requests: Sequence[ModelRequest], timeout_s: float
        ) -> Sequence[InvocationResult]:
            if isinstance(handle, dict) and handle["version"] == "s":
                self._wait(gate)
            return super().invoke_batch(handle, requests, timeout_s)

    facade = ModelServingInfrastructure(HangOnShadow())
    try:
        facade.register_model(make_version("p"))
        facade.register_model(make_version("s", model_name="other"))
        ready(facade, "p", "s")
        shadow_id = facade.start_shadow_deployment("p", "s")
        for _ in range(3):
            assert facade.serve_with_shadow(shadow_id, {"prompt": "x"}).success
        stats = facade.get_shadow_deployment_stats(shadow_id)
        assert stats is not None
        assert stats["comparisons_count"] == 0
        assert stats["mirrored"] == 3
        gate.set()
    finally:
        facade.stop()


def test_ensemble_votes_in_parallel_and_reports_as_the_ensemble(infra: ModelServingInfrastructure) -> None:
    for vid in ("e1", "e2", "e3"):
        infra.register_model(upstream_version(vid, name="vote"))
    ready(infra, "e1", "e2", "e3")
    ensemble_id = infra.create_ensemble(["e1", "e2", "e3"], aggregation_method="voting")
    r = infra.serve_ensemble_request(ensemble_id, {"prompt": "same"})
    assert r.success
    assert (r.model_id, r.version_id) == (f"ensemble-{ensemble_id}", ensemble_id)
    assert r.output_data["text"] == "Generated response for: same"  # type: ignore[index]
    assert r.tokens_used > 0
    with pytest.raises(ValueError, match="not found"):
        infra.serve_ensemble_request("nope", {})
    with pytest.raises(ValueError, match="model_versions"):
        infra.create_ensemble([])


def test_bad_ensembles_are_refused_naming_the_field(infra: ModelServingInfrastructure) -> None:
    infra.register_model(upstream_version("e1"))
    infra.register_model(upstream_version("e2"))
    with pytest.raises(ValueError, match="^model_versions: version 'ghost' is not registered"):
        infra.create_ensemble(["e1", "ghost"])
    with pytest.raises(ValueError, match="^model_versions: an ensemble needs at least 2"):
        infra.create_ensemble(["e1"])
    with pytest.raises(ValueError, match="^min_agreements"):
        infra.create_ensemble(["e1", "e2"], min_agreements=3)
    with pytest.raises(ValueError, match="^aggregation_method"):
        infra.create_ensemble(["e1", "e2"], aggregation_method="stacking")
    assert infra.runtime.experiments.list() == {}


def test_an_ensemble_whose_members_disagree_fails_with_a_quorum_error(infra: ModelServingInfrastructure) -> None:
    infra.register_model(upstream_version("e1", name="a"))
    vision = upstream_version("e2", name="b")
    vision.model_type = ModelType.VISION_MODEL  # predicts a label, not text: the votes differ
    infra.register_model(vision)
    ready(infra, "e1", "e2")
    ensemble_id = infra.create_ensemble(["e1", "e2"])
    r = infra.serve_ensemble_request(ensemble_id, {"prompt": "x"})
    assert r.success is False
    assert r.error_code is ErrorCode.MODEL_ERROR
    assert "Quorum not reached" in (r.error or "")


def test_singleton_is_shared_and_replaced_after_stop() -> None:
    first = get_model_serving_infrastructure()
    assert get_model_serving_infrastructure() is first
    first.stop()
    second = get_model_serving_infrastructure()
    assert second is not first
    second.stop()
