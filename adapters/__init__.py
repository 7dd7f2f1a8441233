"""Adapters: model backends (invokers), the Prometheus exporter, the CLI and its config.

Each backend imports its optional dependency only when built, so importing
this package needs none of them.
"""

from __future__ import annotations

from actorserve.adapters.onnx_invoker import OnnxInvoker
from actorserve.adapters.openai_invoker import OpenAIInvoker
from actorserve.adapters.prometheus_exporter import PrometheusExporter
from actorserve.adapters.simulated import MockModelInvoker, SimulatedInvoker, SimulationSettings
from actorserve.adapters.sklearn_invoker import SklearnInvoker
from actorserve.adapters.tfserving_invoker import TFServingInvoker
from actorserve.adapters.v2_invoker import V2Invoker

__all__ = [
    "MockModelInvoker",
    "OnnxInvoker",
    "OpenAIInvoker",
    "PrometheusExporter",
    "SimulatedInvoker",
    "SimulationSettings",
    "SklearnInvoker",
    "TFServingInvoker",
    "V2Invoker",
]
