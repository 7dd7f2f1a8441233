"""Adapters: model backends (invokers), the CLI, and later exporters and HTTP."""

from __future__ import annotations

from adapters.simulated import MockModelInvoker, SimulatedInvoker, SimulationSettings

__all__ = ["MockModelInvoker", "SimulatedInvoker", "SimulationSettings"]
