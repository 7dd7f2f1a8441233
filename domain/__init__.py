"""Pure domain of actorserve: entities, enums, lifecycle, policies, statistics, ports, errors.

Nothing here blocks, spawns, or reads a clock or a random source of its own.
"""

from __future__ import annotations

from domain.config import ServingConfig
from domain.cost import Price, PriceTable
from domain.entities import (
    ABTestConfig,
    EnsembleConfig,
    JSONValue,
    ModelMetrics,
    ModelRequest,
    ModelResponse,
    ModelVersion,
    ShadowDeployment,
)
from domain.enums import ErrorCode, ModelStatus, ModelType, RoutingStrategy, ServingStrategy, coerce_enum
from domain.errors import ActorServeError, ConfigError, InvocationError, LifecycleError, ModelLoadError
from domain.lifecycle import ROUTABLE, LifecycleEvent, transition
from domain.metrics import Ewma, LatencyHistogram, MetricsRecorder, Outcome
from domain.ports import (
    Clock,
    CostCalculator,
    InvocationResult,
    MetricsExporter,
    MetricsSink,
    ModelHandle,
    ModelInvoker,
    RandomSource,
    StateStore,
)
from domain.routing import Candidate, RoutingRule, make_policy

__all__ = [
    "ROUTABLE",
    "ABTestConfig",
    "ActorServeError",
    "Candidate",
    "Clock",
    "ConfigError",
    "CostCalculator",
    "EnsembleConfig",
    "ErrorCode",
    "Ewma",
    "InvocationError",
    "InvocationResult",
    "JSONValue",
    "LatencyHistogram",
    "LifecycleError",
    "LifecycleEvent",
    "MetricsExporter",
    "MetricsRecorder",
    "MetricsSink",
    "ModelHandle",
    "ModelInvoker",
    "ModelLoadError",
    "ModelMetrics",
    "ModelRequest",
    "ModelResponse",
    "ModelStatus",
    "ModelType",
    "ModelVersion",
    "Outcome",
    "Price",
    "PriceTable",
    "RandomSource",
    "RoutingRule",
    "RoutingStrategy",
    "ServingConfig",
    "ServingStrategy",
    "ShadowDeployment",
    "StateStore",
    "coerce_enum",
    "make_policy",
    "transition",
]
