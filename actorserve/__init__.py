"""actorserve: an embedded, actor-based runtime for serving ML models inside a Python host application.

The one import name of the distribution. The layers live beneath it, as the
repository keeps them side by side (DESIGN.md §1):

```
actorserve.domain     pure: entities, enums, lifecycle, policies, statistics, ports, errors
actorserve.actors     Pykka actors, the runtime that wires them, the upstream facade
actorserve.adapters   backends (invokers), exporters, the CLI and its config
```

What most host code needs is re-exported here::

    from actorserve import ModelVersion, ServingConfig, ServingRuntime
"""

from __future__ import annotations

from actorserve.actors import (
    InvokerSet,
    ModelServingInfrastructure,
    ServingRuntime,
    get_model_serving_infrastructure,
    register_invoker_factory,
)
from actorserve.adapters import MockModelInvoker, PrometheusExporter, SimulatedInvoker
from actorserve.domain import (
    ABTestConfig,
    ActorServeError,
    ConfigError,
    EnsembleConfig,
    ErrorCode,
    InvocationError,
    InvocationResult,
    LifecycleError,
    MetricsSink,
    ModelInvoker,
    ModelLoadError,
    ModelMetrics,
    ModelRequest,
    ModelResponse,
    ModelStatus,
    ModelType,
    ModelVersion,
    PriceTable,
    RoutingStrategy,
    ServingConfig,
    ServingStrategy,
    ShadowDeployment,
)

__all__ = [
    "ABTestConfig",
    "ActorServeError",
    "ConfigError",
    "EnsembleConfig",
    "ErrorCode",
    "InvocationError",
    "InvocationResult",
    "InvokerSet",
    "LifecycleError",
    "MetricsSink",
    "MockModelInvoker",
    "ModelInvoker",
    "ModelLoadError",
    "ModelMetrics",
    "ModelRequest",
    "ModelResponse",
    "ModelServingInfrastructure",
    "ModelStatus",
    "ModelType",
    "ModelVersion",
    "PriceTable",
    "PrometheusExporter",
    "RoutingStrategy",
    "ServingConfig",
    "ServingRuntime",
    "ServingStrategy",
    "ShadowDeployment",
    "SimulatedInvoker",
    "get_model_serving_infrastructure",
    "register_invoker_factory",
]
