"""The upstream pre-actor design, minimally: a registry dict behind an RLock.

`serve_request` looks up the newest READY version under the lock, calls the
invoker in the caller's thread, and records metrics under the lock again.
This is the baseline actorserve replaces.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque

from actorserve.domain import ModelRequest, ModelResponse, ModelStatus, ModelVersion
from actorserve.domain.ports import ModelInvoker


class SharedLockServing:
    def __init__(self, invoker: ModelInvoker) -> None:
        self._invoker = invoker
        self._lock = threading.RLock()
        self._models: dict[str, ModelVersion] = {}
        self._handles: dict[str, object] = {}
        self._latencies: dict[str, deque[float]] = {}

    def register_model(self, model: ModelVersion) -> bool:
        with self._lock:
            if model.version_id in self._models:
                return False
            self._models[model.version_id] = model
            self._handles[model.version_id] = self._invoker.load(model)
            self._latencies[model.version_id] = deque(maxlen=10_000)
            model.status = ModelStatus.READY
            return True

    def serve_request(self, model_name: str, input_data: dict[str, object]) -> ModelResponse:
        request_id = str(uuid.uuid4())
        with self._lock:
            ready = [m for m in self._models.values() if m.model_name == model_name and m.status is ModelStatus.READY]
            model = max(ready, key=lambda m: m.created_at) if ready else None
        if model is None:
            return ModelResponse(request_id, model_name, "unknown", None, 0.0, success=False, error="Model not ready")
        started = time.monotonic()
        request = ModelRequest(request_id, model_name, model.version_id, input_data)
        result = self._invoker.invoke(self._handles[model.version_id], request, 30.0)
        latency_ms = (time.monotonic() - started) * 1000
        with self._lock:
            self._latencies[model.version_id].append(latency_ms)
        return ModelResponse(request_id, model_name, model.version_id, result.output, latency_ms)
