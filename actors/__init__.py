"""Pykka actors, the runtime that wires them, and the upstream compatibility facade."""

from __future__ import annotations

from actorserve.actors.facade import ModelServingInfrastructure, get_model_serving_infrastructure
from actorserve.actors.invoker_set import FRAMEWORK_ALIASES, InvokerSet
from actorserve.actors.plugins import invoker_names, load_exporter, load_invoker, register_invoker_factory
from actorserve.actors.reply import AsyncReply, Reply, SyncReply
from actorserve.actors.runtime import NullSink, ServingRuntime

__all__ = [
    "FRAMEWORK_ALIASES",
    "AsyncReply",
    "InvokerSet",
    "ModelServingInfrastructure",
    "NullSink",
    "Reply",
    "ServingRuntime",
    "SyncReply",
    "get_model_serving_infrastructure",
    "invoker_names",
    "load_exporter",
    "load_invoker",
    "register_invoker_factory",
]
