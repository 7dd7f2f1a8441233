from __future__ import annotations

import pytest

from actorserve.domain import (
    ConfigError,
    ErrorCode,
    ModelMetrics,
    ModelResponse,
    ModelStatus,
    ModelType,
    ModelVersion,
    RoutingStrategy,
    ServingConfig,
    coerce_enum,
)


def test_enum_values_are_the_lower_case_names() -> None:
    for enum in (ModelStatus, ModelType, RoutingStrategy, ErrorCode):
        for member in enum:
            assert member.value == member.name.lower()


def test_coerce_enum_accepts_members_values_and_names() -> None:
    assert coerce_enum(ModelType, "vision_model", "model_type") is ModelType.VISION_MODEL
    assert coerce_enum(ModelType, "VISION_MODEL", "model_type") is ModelType.VISION_MODEL
    assert coerce_enum(ModelType, ModelType.VISION_MODEL, "model_type") is ModelType.VISION_MODEL


def test_an_unknown_enum_string_is_a_value_error_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"^model_type: unknown value 'robot'"):
        coerce_enum(ModelType, "robot", "model_type")


def test_model_version_keeps_upstream_defaults() -> None:
    v = ModelVersion("v1", "chat", "1.0", ModelType.LANGUAGE_MODEL, ModelStatus.LOADING)
    assert (v.endpoint, v.framework, v.device, v.batch_size, v.max_sequence_length) == (None, "pytorch", "cpu", 1, 2048)
    assert v.parameters == {} and v.metadata == {} and v.loaded_at is None
    assert v.serving == ServingConfig()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"version_id": ""}, "version_id"),
        ({"version_id": "   "}, "version_id"),
        ({"model_name": ""}, "model_name"),
        ({"model_type": "robot"}, "model_type"),
        ({"status": "sleeping"}, "status"),
        ({"parameters": []}, "parameters"),
    ],
)
def test_invalid_model_version_fields_raise_value_errors_naming_them(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {
        "version_id": "v1",
        "model_name": "chat",
        "version_number": "1",
        "model_type": ModelType.CUSTOM_MODEL,
        "status": ModelStatus.LOADING,
    }
    with pytest.raises(ValueError, match=rf"^{field}:"):
        ModelVersion(**{**base, **kwargs})  # type: ignore[arg-type]


def test_enum_strings_are_accepted_on_model_version() -> None:
    v = ModelVersion("v1", "chat", "1", "embedding_model", "loading")  # type: ignore[arg-type]
    assert v.model_type is ModelType.EMBEDDING_MODEL
    assert v.status is ModelStatus.LOADING


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"replicas": 0}, "replicas"),
        ({"max_queue": -1}, "max_queue"),
        ({"timeout_ms": -5}, "timeout_ms"),
        ({"timeout_ms": float("nan")}, "timeout_ms"),
        ({"batch_wait_ms": -1}, "batch_wait_ms"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_batch_size": 1.5}, "max_batch_size"),
        ({"drain_timeout_s": -1}, "drain_timeout_s"),
        ({"max_restarts": -1}, "max_restarts"),
        ({"replicas": True}, "replicas"),
        ({"pipeline_depth": 0}, "pipeline_depth"),
    ],
)
def test_negative_or_invalid_limits_raise_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: must be") as info:
        ServingConfig(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ConfigError)
    assert info.value.field == field


def test_effective_concurrency_defaults_to_replicas_times_batch_times_pipeline() -> None:
    assert ServingConfig(replicas=3, max_batch_size=4).effective_max_concurrency == 24
    assert ServingConfig(replicas=3, max_batch_size=4, pipeline_depth=1).effective_max_concurrency == 12
    assert ServingConfig(replicas=3, max_concurrency=2).effective_max_concurrency == 2


def test_from_mapping_rejects_unknown_keys_by_name() -> None:
    with pytest.raises(ConfigError, match=r"^serving\.replica: unknown key"):
        ServingConfig.from_mapping({"replica": 2})
    with pytest.raises(ConfigError, match=r"^serving\.replicas: must be"):
        ServingConfig.from_mapping({"replicas": "two"})
    assert ServingConfig.from_mapping({"replicas": 2}).replicas == 2


def test_response_and_metrics_keep_upstream_fields() -> None:
    r = ModelResponse("r", "m", "v", None, 1.0)
    assert (r.tokens_used, r.cost_usd, r.success, r.error, r.error_code) == (0, 0.0, True, None, None)
    m = ModelMetrics("v")
    assert m.error_rate == 0.0
    assert (m.total_requests, m.p99_latency_ms, m.tokens_processed, m.cost_usd) == (0, 0.0, 0, 0.0)
