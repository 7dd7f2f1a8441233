"""Enumerations shared by every layer; values are the lower-case member names."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from actorserve.domain.errors import ConfigError

__all__ = [
    "ErrorCode",
    "ModelStatus",
    "ModelType",
    "RoutingStrategy",
    "ServingStrategy",
    "coerce_enum",
]


class ModelStatus(Enum):
    """Lifecycle state of one model version (see `domain.lifecycle`)."""

    LOADING = "loading"
    """Replicas are loading the model; requests are answered NOT_READY."""
    READY = "ready"
    """At least the required replicas are loaded; the router sends it traffic."""
    SERVING = "serving"
    """Kept for upstream compatibility; routable like READY, never set by the runtime."""
    DRAINING = "draining"
    """Unloading: no new traffic; queued and in-flight requests are finishing."""
    STOPPED = "stopped"
    """Terminal: workers unloaded, threads ended."""
    FAILED = "failed"
    """Loading or supervision gave up; the error is kept on the version."""


class ServingStrategy(Enum):
    """How traffic for a model is served (upstream vocabulary)."""

    SINGLE = "single"
    AB_TESTING = "ab_testing"
    CANARY = "canary"
    SHADOW = "shadow"
    MULTI_MODEL = "multi_model"
    ENSEMBLE = "ensemble"


class ModelType(Enum):
    """What kind of model a version serves; shapes simulated outputs."""

    LANGUAGE_MODEL = "language_model"
    VISION_MODEL = "vision_model"
    EMBEDDING_MODEL = "embedding_model"
    CUSTOM_MODEL = "custom_model"


class RoutingStrategy(Enum):
    """How the router picks one READY version of a model."""

    ROUND_ROBIN = "round_robin"
    LEAST_LATENCY = "least_latency"
    LEAST_COST = "least_cost"
    WEIGHTED = "weighted"
    INTELLIGENT = "intelligent"


class ErrorCode(Enum):
    """Why a `ModelResponse` failed; `ModelResponse.error` holds the sentence."""

    NOT_FOUND = "not_found"
    """No such model, version or experiment."""
    NOT_READY = "not_ready"
    """The version exists but is not READY ("Model not ready")."""
    OVERLOADED = "overloaded"
    """The version's queue is full; retry later."""
    TIMEOUT = "timeout"
    """The request's deadline passed before it was answered."""
    INVALID_INPUT = "invalid_input"
    """The request itself is malformed; the message names the field."""
    MODEL_ERROR = "model_error"
    """The invoker (the model or its backend) failed."""
    UNAVAILABLE = "unavailable"
    """The version or runtime stopped, crashed or drained before answering."""
    CANCELLED = "cancelled"
    """The caller gave up (for example an asyncio task was cancelled)."""


E = TypeVar("E", bound=Enum)


def coerce_enum(enum_type: type[E], value: object, field: str) -> E:
    """Return `value` as a member of `enum_type`, accepting the member or its value.

    Raises:
        ConfigError: naming `field` when the value is not a member.
    """
    if isinstance(value, enum_type):
        return value
    if isinstance(value, str):
        for member in enum_type:
            if member.value == value.lower() or member.name == value:
                return member
    allowed = ", ".join(m.value for m in enum_type)
    msg = f"{field}: unknown value {value!r} (expected one of: {allowed})"
    raise ConfigError(msg, field=field)
