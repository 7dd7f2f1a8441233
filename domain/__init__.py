"""Pure domain of actorserve: entities, enums, lifecycle, policies, statistics, ports, errors.

Nothing here blocks, spawns, or reads a clock or a random source of its own.
"""

from __future__ import annotations

from actorserve.domain.config import ServingConfig
from actorserve.domain.cost import Price, PriceTable
from actorserve.domain.entities import (
    ABTestConfig,
    EnsembleConfig,
    JSONValue,
    ModelMetrics,
    ModelRequest,
    ModelResponse,
    ModelVersion,
    ShadowDeployment,
)
from actorserve.domain.enums import ErrorCode, ModelStatus, ModelType, RoutingStrategy, ServingStrategy, coerce_enum
from actorserve.domain.errors import (
    ActorServeError,
    ConfigError,
    InvocationError,
    LifecycleError,
    ModelLoadError,
    StateError,
)
from actorserve.domain.lifecycle import ROUTABLE, LifecycleEvent, transition
from actorserve.domain.metrics import Ewma, LatencyHistogram, MetricsRecorder, Outcome
from actorserve.domain.ports import (
    Clock,
    CostCalculator,
    InvocationResult,
    MetricsExporter,
    MetricsSink,
    ModelHandle,
    ModelInvoker,
    RandomSource,
    StateStore,
    StateStoreFactory,
)
from actorserve.domain.routing import Candidate, RoutingRule, make_policy
from actorserve.domain.state import SCHEMA_VERSION, CounterBatch, Counters, Document, StoredDocument

__all__ = [
    "ROUTABLE",
    "SCHEMA_VERSION",
    "ABTestConfig",
    "ActorServeError",
    "Candidate",
    "Clock",
    "ConfigError",
    "CostCalculator",
    "CounterBatch",
    "Counters",
    "Document",
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
    "StateError",
    "StateStore",
    "StateStoreFactory",
    "StoredDocument",
    "coerce_enum",
    "make_policy",
    "transition",
]
