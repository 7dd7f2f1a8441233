"""Upstream entities, with their field names and defaults kept.

Callers mutate these (upstream code did), so they stay plain mutable
dataclasses; new fields are appended with defaults, never inserted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TypeAlias

from actorserve.domain.config import ServingConfig
from actorserve.domain.enums import ErrorCode, ModelStatus, ModelType, RoutingStrategy, coerce_enum
from actorserve.domain.errors import ConfigError
from actorserve.domain.redaction import redact_parameters

__all__ = [
    "ABTestConfig",
    "EnsembleConfig",
    "JSONValue",
    "ModelMetrics",
    "ModelRequest",
    "ModelResponse",
    "ModelVersion",
    "ShadowDeployment",
]

JSONValue: TypeAlias = object
"""Model inputs and outputs: whatever the backend speaks (dicts, lists, numbers, text)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _require_id(value: object, field_name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        msg = f"{field_name}: must be a non-empty string (got {value!r})"
        raise ConfigError(msg, field=field_name)


@dataclass
class ModelVersion:
    """One deployable version of a model.

    The runtime writes `status`, `loaded_at` and `last_error` from the version's
    actor thread as its lifecycle moves, so the object a caller registered
    shows the live state.
    """

    version_id: str
    model_name: str
    version_number: str
    model_type: ModelType
    status: ModelStatus
    endpoint: str | None = None
    framework: str = "pytorch"
    device: str = "cpu"
    batch_size: int = 1
    max_sequence_length: int = 2048
    parameters: dict[str, object] = field(default_factory=dict)
    metadata: dict[str, object] = field(default_factory=dict)
    created_at: datetime = field(default_factory=_utcnow)
    loaded_at: datetime | None = None
    serving: ServingConfig = field(default_factory=ServingConfig)
    last_error: str | None = None

    def __post_init__(self) -> None:
        _require_id(self.version_id, "version_id")
        _require_id(self.model_name, "model_name")
        if not isinstance(self.version_number, str):
            msg = f"version_number: must be a string (got {self.version_number!r})"
            raise ConfigError(msg, field="version_number")
        self.model_type = coerce_enum(ModelType, self.model_type, "model_type")
        self.status = coerce_enum(ModelStatus, self.status, "status")
        for name in ("parameters", "metadata"):
            if not isinstance(getattr(self, name), dict):
                msg = f"{name}: must be a dict (got {type(getattr(self, name)).__name__})"
                raise ConfigError(msg, field=name)
        if not isinstance(self.serving, ServingConfig):
            msg = f"serving: must be a ServingConfig (got {type(self.serving).__name__})"
            raise ConfigError(msg, field="serving")

    def __repr__(self) -> str:
        """Every field, as the dataclass repr shows it, with secret-looking parameters masked.

        `parameters={'api_key': '***', 'api_key_env': 'OPENAI_KEY', ...}`: the
        rule is `domain.redaction.is_secret_name`.
        """
        shown = []
        for f in fields(self):
            if not f.repr:
                continue
            value = getattr(self, f.name)
            if f.name == "parameters" and isinstance(value, dict):
                value = redact_parameters(value)
            shown.append(f"{f.name}={value!r}")
        return f"{type(self).__qualname__}({', '.join(shown)})"


@dataclass
class ModelMetrics:
    """A snapshot of one version's serving metrics (a fresh object per call)."""

    version_id: str
    timestamp: datetime = field(default_factory=_utcnow)
    total_requests: int = 0
    successful_requests: int = 0
    failed_requests: int = 0
    avg_latency_ms: float = 0.0
    p50_latency_ms: float = 0.0
    p95_latency_ms: float = 0.0
    p99_latency_ms: float = 0.0
    tokens_processed: int = 0
    cost_usd: float = 0.0
    cpu_usage: float = 0.0
    memory_usage_mb: float = 0.0
    gpu_usage: float = 0.0
    errors_by_code: dict[str, int] = field(default_factory=dict)
    queue_depth: int = 0
    in_flight: int = 0
    max_latency_ms: float = 0.0
    replicas_ready: int = 0
    status: ModelStatus | None = None

    @property
    def error_rate(self) -> float:
        """Failed requests over all answered requests (0.0 when none)."""
        return self.failed_requests / self.total_requests if self.total_requests else 0.0


@dataclass
class ABTestConfig:
    """An A/B test between two versions (upstream shape)."""

    test_id: str
    model_a_id: str
    model_b_id: str
    model_a_percentage: float = 50.0
    model_b_percentage: float = 50.0
    duration_hours: int = 24
    success_metric: str = "latency"
    started_at: datetime = field(default_factory=_utcnow)
    ended_at: datetime | None = None
    winner: str | None = None


@dataclass
class ShadowDeployment:
    """A shadow deployment: the primary answers, the shadow sees copies."""

    shadow_id: str
    primary_model_id: str
    shadow_model_id: str
    traffic_percentage: float = 100.0
    collect_responses: bool = True
    compare_results: bool = True
    started_at: datetime = field(default_factory=_utcnow)
    comparison_results: list[dict[str, object]] = field(default_factory=list)


@dataclass
class ModelRequest:
    """One inference request as the invoker sees it."""

    request_id: str
    model_id: str
    version_id: str
    input_data: dict[str, object]
    parameters: dict[str, object] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=_utcnow)
    routing_strategy: RoutingStrategy = RoutingStrategy.ROUND_ROBIN
    key: str | None = None


@dataclass
class ModelResponse:
    """The one answer to a request: success, or `error` + `error_code`."""

    request_id: str
    model_id: str
    version_id: str
    output_data: JSONValue
    latency_ms: float
    tokens_used: int = 0
    cost_usd: float = 0.0
    timestamp: datetime = field(default_factory=_utcnow)
    success: bool = True
    error: str | None = None
    error_code: ErrorCode | None = None


@dataclass
class EnsembleConfig:
    """An ensemble of versions and how their outputs are combined.

    `vote_on` names what voting compares (a key or dotted path into each
    output); None votes on the prediction by the default rule.
    """

    ensemble_id: str
    model_versions: list[str]
    aggregation_method: str = "voting"
    weights: dict[str, float] = field(default_factory=dict)
    min_agreements: int = 2
    vote_on: str | None = None
