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
from actorserve.domain.multiplicity import HolmResult, holm
from actorserve.domain.planning import minimum_detectable_effect, required_sample_size
from actorserve.domain.ports import (
    BatchMetricsSink,
    Clock,
    CostCalculator,
    InvocationResult,
    MetricsExporter,
    MetricsSink,
    ModelHandle,
    ModelInvoker,
    NetworkServer,
    RandomSource,
    StateStore,
    StateStoreFactory,
    ValidatingInvoker,
)
from actorserve.domain.redaction import is_secret_name, redact_parameters
from actorserve.domain.routing import Candidate, RoutingRule, make_policy
from actorserve.domain.sequential import (
    SequentialResult,
    SequentialTest,
    msprt_difference,
    msprt_means,
    msprt_rates,
    tau_for_horizon,
    tau_from_mde,
)
from actorserve.domain.state import SCHEMA_VERSION, CounterBatch, Counters, Document, StoredDocument
from actorserve.domain.variance import (
    CupedResult,
    CupedTotals,
    RatioComparison,
    RatioEstimate,
    RatioTotals,
    compare_ratios,
    cuped,
    delta_method_ratio,
)

__all__ = [
    "ROUTABLE",
    "SCHEMA_VERSION",
    "ABTestConfig",
    "ActorServeError",
    "BatchMetricsSink",
    "Candidate",
    "Clock",
    "ConfigError",
    "CostCalculator",
    "CounterBatch",
    "Counters",
    "CupedResult",
    "CupedTotals",
    "Document",
    "EnsembleConfig",
    "ErrorCode",
    "Ewma",
    "HolmResult",
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
    "NetworkServer",
    "Outcome",
    "Price",
    "PriceTable",
    "RandomSource",
    "RatioComparison",
    "RatioEstimate",
    "RatioTotals",
    "RoutingRule",
    "RoutingStrategy",
    "SequentialResult",
    "SequentialTest",
    "ServingConfig",
    "ServingStrategy",
    "ShadowDeployment",
    "StateError",
    "StateStore",
    "StateStoreFactory",
    "StoredDocument",
    "ValidatingInvoker",
    "coerce_enum",
    "compare_ratios",
    "cuped",
    "delta_method_ratio",
    "holm",
    "is_secret_name",
    "make_policy",
    "minimum_detectable_effect",
    "msprt_difference",
    "msprt_means",
    "msprt_rates",
    "redact_parameters",
    "required_sample_size",
    "tau_for_horizon",
    "tau_from_mde",
    "transition",
]
