"""Pykka actors, the runtime that wires them, and the upstream compatibility facade."""

from __future__ import annotations

from actors.facade import ModelServingInfrastructure, get_model_serving_infrastructure
from actors.plugins import invoker_names, load_invoker
from actors.reply import AsyncReply, Reply, SyncReply
from actors.runtime import NullSink, ServingRuntime

__all__ = [
    "AsyncReply",
    "ModelServingInfrastructure",
    "NullSink",
    "Reply",
    "ServingRuntime",
    "SyncReply",
    "get_model_serving_infrastructure",
    "invoker_names",
    "load_invoker",
]
