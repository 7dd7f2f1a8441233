"""InvokerSet: one `ModelInvoker` that picks a backend per version.

A version names its backend by `parameters["invoker"]`, else by `framework`
(with common aliases: "onnxruntime" → "onnx", "triton" → "v2", ...). Names
resolve to invokers the host registered on the set, then to factories in the
`actorserve.invokers` entry-point group, built once on first use with the
settings given for that name. A framework nothing is registered for goes to
the default invoker (the simulated one unless told otherwise), as the
upstream API served every version through its mock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from actorserve.actors.plugins import invoker_names, load_invoker
from actorserve.domain.entities import ModelRequest, ModelVersion
from actorserve.domain.errors import ConfigError
from actorserve.domain.ports import InvocationResult, ModelHandle, ModelInvoker, ValidatingInvoker

__all__ = ["FRAMEWORK_ALIASES", "InvokerSet"]

log = logging.getLogger(__name__)

FRAMEWORK_ALIASES: Mapping[str, str] = {
    "onnxruntime": "onnx",
    "scikit-learn": "sklearn",
    "skops": "sklearn",
    "kserve": "v2",
    "triton": "v2",
    "mlserver": "v2",
    "torchserve": "v2",
    "open-inference": "v2",
    "openai-compatible": "openai",
    "tensorflow": "tfserving",
    "tensorflow-serving": "tfserving",
    "mock": "simulated",
}
"""Framework names that mean an invoker of another name."""


@dataclass(frozen=True, slots=True)
class _Routed:
    """The handle an `InvokerSet` hands out: which backend loaded it, and its own handle."""

    invoker: ModelInvoker
    handle: ModelHandle


class InvokerSet:
    """Routes each version to its backend; the runtime's default invoker.

    Thread-safe: worker threads call `load` concurrently; a backend is built
    once, under a lock, the first time a version needs it.

    Args:
        invokers: invokers by name, used before any entry point of that name.
        default: the invoker (or its name) for versions whose framework names
            no backend.
        settings: keyword settings per entry-point name, for the backends
            this set builds itself (e.g. `{"onnx": {"intra_op_threads": 2}}`).
    """

    def __init__(
        self,
        invokers: Mapping[str, ModelInvoker] | None = None,
        *,
        default: ModelInvoker | str = "simulated",
        settings: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._invokers: dict[str, ModelInvoker] = dict(invokers or {})
        self._settings = {name: dict(values) for name, values in (settings or {}).items()}
        self._default_name = default if isinstance(default, str) else "default"
        if not isinstance(default, str):
            self._invokers["default"] = default
        self._closed = False
        self._defaulted: set[str] = set()  # frameworks already reported as served by the default

    def register(self, name: str, invoker: ModelInvoker) -> None:
        """Serve versions that name `name` (as framework or `parameters["invoker"]`) with `invoker`."""
        if not isinstance(name, str) or not name:
            raise ConfigError(f"name: must be a non-empty string (got {name!r})", field="name")
        with self._lock:
            self._invokers[name] = invoker

    def names(self) -> list[str]:
        """Every backend name this set can resolve, sorted."""
        with self._lock:
            return sorted(set(self._invokers) | set(invoker_names()))

    def backend_name(self, version: ModelVersion) -> str:
        """The name of the backend that serves `version`.

        Raises:
            ConfigError: `parameters.invoker` names no backend.
        """
        explicit = version.parameters.get("invoker")
        if explicit is not None:
            if not isinstance(explicit, str) or explicit not in self.names():
                msg = f"parameters.invoker: unknown {explicit!r} (installed: {', '.join(self.names())})"
                raise ConfigError(msg, field="parameters.invoker")
            return explicit
        framework = version.framework.strip().lower()
        name = FRAMEWORK_ALIASES.get(framework, framework)
        if name in self._invokers or name in invoker_names():
            return name
        if framework not in self._defaulted:
            self._defaulted.add(framework)
            log.info(
                "framework %r has no backend of its name; the default (%s) serves it",
                framework,
                self._default_name,
                extra={"model": version.model_name, "version": version.version_id},
            )
        return self._default_name

    def resolve(self, version: ModelVersion) -> ModelInvoker:
        """The backend for `version`, built on first use.

        Raises:
            ConfigError: unknown backend, a missing optional dependency, or bad settings.
        """
        name = self.backend_name(version)
        with self._lock:
            invoker = self._invokers.get(name)
            if invoker is None:
                if self._closed:
                    msg = "invoker: the runtime is stopped"
                    raise ConfigError(msg, field="invoker")
                invoker = load_invoker(name, **self._settings.get(name, {}))
                self._invokers[name] = invoker
        return invoker

    def validate(self, version: ModelVersion) -> None:
        """Check that a backend exists for `version` and accepts its parameters (register calls this).

        Raises:
            ConfigError: naming the bad field.
        """
        invoker = self.resolve(version)
        if isinstance(invoker, ValidatingInvoker):
            invoker.validate(version)

    # --- ModelInvoker ----------------------------------------------------------

    def load(self, version: ModelVersion) -> ModelHandle:
        """Load through the version's backend."""
        invoker = self.resolve(version)
        return _Routed(invoker, invoker.load(version))

    def invoke(self, handle: ModelHandle, request: ModelRequest, timeout_s: float) -> InvocationResult:
        """Run one request on the backend that loaded `handle`."""
        assert isinstance(handle, _Routed)
        return handle.invoker.invoke(handle.handle, request, timeout_s)

    def invoke_batch(
        self, handle: ModelHandle, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        """Run a batch on the backend that loaded `handle`."""
        assert isinstance(handle, _Routed)
        return handle.invoker.invoke_batch(handle.handle, requests, timeout_s)

    def unload(self, handle: ModelHandle) -> None:
        """Unload through the backend that loaded `handle`."""
        assert isinstance(handle, _Routed)
        handle.invoker.unload(handle.handle)

    def health(self, handle: ModelHandle) -> bool:
        """Probe through the backend that loaded `handle`."""
        assert isinstance(handle, _Routed)
        return handle.invoker.health(handle.handle)

    def close(self) -> None:
        """Close every backend this set holds; later loads fail."""
        with self._lock:
            self._closed = True
            invokers = list({id(i): i for i in self._invokers.values()}.values())
        errors: list[BaseException] = []
        for invoker in invokers:
            try:
                invoker.close()
            except Exception as exc:  # noqa: BLE001 - close every backend, then report
                errors.append(exc)
        if errors:
            raise errors[0]
