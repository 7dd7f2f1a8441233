"""SimulatedInvoker: a configurable stand-in model for demos, tests and benchmarks."""

from __future__ import annotations

import hashlib
import math
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from actorserve.domain.entities import ModelRequest, ModelVersion
from actorserve.domain.enums import ErrorCode, ModelType
from actorserve.domain.errors import ConfigError
from actorserve.domain.ports import InvocationResult, ModelHandle

__all__ = ["MockModelInvoker", "SimulatedInvoker", "SimulationSettings"]

_DISTRIBUTIONS = ("uniform", "normal", "exponential", "lognormal")


@dataclass(frozen=True, slots=True)
class SimulationSettings:
    """How a simulated model behaves; a version overrides any field in `parameters`."""

    load_time_s: float = 0.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    hang_rate: float = 0.0
    latency_distribution: str = "uniform"
    batch_item_latency_ms: float = 0.0
    load_failures: int = 0
    hang_s: float = 3600.0
    embedding_dim: int = 8

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "latency_distribution":
                if value not in _DISTRIBUTIONS:
                    msg = f"{f.name}: must be one of {', '.join(_DISTRIBUTIONS)} (got {value!r})"
                    raise ConfigError(msg, field=f.name)
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{f.name}: must be a number >= 0 (got {value!r})", field=f.name)
        for name in ("error_rate", "hang_rate"):
            if getattr(self, name) > 1:
                raise ConfigError(f"{name}: must be between 0 and 1 (got {getattr(self, name)!r})", field=name)
        if self.embedding_dim < 1 or not isinstance(self.embedding_dim, int):
            raise ConfigError(
                f"embedding_dim: must be an integer >= 1 (got {self.embedding_dim!r})", field="embedding_dim"
            )
        if not isinstance(self.load_failures, int):
            raise ConfigError(
                f"load_failures: must be an integer >= 0 (got {self.load_failures!r})", field="load_failures"
            )

    def override(self, parameters: dict[str, object]) -> SimulationSettings:
        """These settings with the matching keys of `parameters` applied (others ignored)."""
        names = {f.name for f in fields(self)}
        given = {k: v for k, v in parameters.items() if k in names}
        if not given:
            return self
        try:
            return replace(self, **given)  # type: ignore[arg-type]
        except ConfigError as exc:
            raise ConfigError(f"parameters.{exc}", field=f"parameters.{exc.field}") from None


@dataclass(slots=True)
class _Handle:
    version: ModelVersion
    settings: SimulationSettings
    rng: random.Random
    lock: threading.Lock


def estimate_tokens(value: object) -> int:
    """About four characters per token, at least one for non-empty text."""
    text = value if isinstance(value, str) else str(value)
    return math.ceil(len(text) / 4) if text else 0


class SimulatedInvoker:
    """A `ModelInvoker` that pretends: load time, latency, errors and hangs, all seeded.

    Outputs depend on the model type: language models echo the prompt
    (`{"text": "Generated response for: <prompt>", ...}`), embedding models
    return a deterministic unit vector of the input, vision models a label
    with scores, custom models `{"result": "processed", ...}`. Token counts are
    estimated from the text; cost comes from the runtime's price table.

    Sleeps and hangs wait on an event that `close()` sets, so stopping the
    runtime never leaves a thread behind.
    """

    def __init__(
        self,
        load_time_s: float = 0.0,
        latency_ms: float = 0.0,
        latency_jitter_ms: float = 0.0,
        error_rate: float = 0.0,
        hang_rate: float = 0.0,
        seed: int | None = None,
        *,
        latency_distribution: str = "uniform",
        batch_item_latency_ms: float = 0.0,
    ) -> None:
        self._defaults = SimulationSettings(
            load_time_s=load_time_s,
            latency_ms=latency_ms,
            latency_jitter_ms=latency_jitter_ms,
            error_rate=error_rate,
            hang_rate=hang_rate,
            latency_distribution=latency_distribution,
            batch_item_latency_ms=batch_item_latency_ms,
        )
        self._seed = seed
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._loads: dict[str, int] = {}

    @property
    def defaults(self) -> SimulationSettings:
        """The settings versions start from."""
        return self._defaults

    def settings_for(self, version: ModelVersion) -> SimulationSettings:
        """The defaults with the version's parameter overrides (validated)."""
        return self._defaults.override(version.parameters)

    def validate(self, version: ModelVersion) -> None:
        """Check the version's simulation parameters (runtime.register calls this).

        Every `SimulationSettings` field the version overrides is checked the
        way `load` would read it, so a bad value fails at register, by name.

        Raises:
            ConfigError: naming the parameter, e.g. `parameters.latency_ms: must be a number >= 0 (got 'fast')`.
        """
        self.settings_for(version)

    def load(self, version: ModelVersion) -> ModelHandle:
        """Pretend to load: wait `load_time_s`, fail the first `load_failures` loads."""
        settings = self.settings_for(version)
        with self._lock:
            attempt = self._loads.get(version.version_id, 0) + 1
            self._loads[version.version_id] = attempt
        if settings.load_time_s and self._closed.wait(settings.load_time_s):
            msg = "invoker closed while loading"
            raise RuntimeError(msg)
        if attempt <= settings.load_failures:
            msg = f"simulated load failure {attempt} of {settings.load_failures} for {version.version_id}"
            raise RuntimeError(msg)
        seed_text = f"{self._seed}:{version.version_id}:{attempt}"
        seed = (
            None
            if self._seed is None
            else int.from_bytes(hashlib.blake2b(seed_text.encode(), digest_size=8).digest(), "big")
        )
        return _Handle(version, settings, random.Random(seed), threading.Lock())

    def _latency_s(self, handle: _Handle, items: int) -> float:
        s = handle.settings
        base = s.latency_ms + s.batch_item_latency_ms * max(items - 1, 0)
        jitter = s.latency_jitter_ms
        rng = handle.rng
        if jitter <= 0:
            value = base
        elif s.latency_distribution == "uniform":
            value = base + rng.uniform(-jitter, jitter)
        elif s.latency_distribution == "normal":
            value = rng.gauss(base, jitter)
        elif s.latency_distribution == "exponential":
            value = base + rng.expovariate(1.0 / jitter)
        else:  # lognormal with median `base` and spread from the jitter
            sigma = math.log1p(jitter / base) if base > 0 else 1.0
            value = base * math.exp(rng.gauss(0.0, sigma)) if base > 0 else rng.lognormvariate(0.0, sigma) * jitter
        return max(value, 0.0) / 1000.0

    def invoke(self, handle: ModelHandle, request: ModelRequest, timeout_s: float) -> InvocationResult:
        """Run one simulated request."""
        return self.invoke_batch(handle, [request], timeout_s)[0]

    def invoke_batch(
        self,
        handle: ModelHandle,
        requests: Sequence[ModelRequest],
        timeout_s: float,
    ) -> Sequence[InvocationResult]:
        """Run a batch: one latency draw for the whole batch (plus per-item cost)."""
        assert isinstance(handle, _Handle)
        s = handle.settings
        with handle.lock:
            latency = self._latency_s(handle, len(requests))
            hang = s.hang_rate > 0 and handle.rng.random() < s.hang_rate
            failures = [s.error_rate > 0 and handle.rng.random() < s.error_rate for _ in requests]
        if hang:
            self._closed.wait(s.hang_s)
            return [InvocationResult(error="Simulated model hung", error_code=ErrorCode.TIMEOUT) for _ in requests]
        if latency > 0:
            self._closed.wait(latency)
        return [
            InvocationResult(error="Simulated model error", error_code=ErrorCode.MODEL_ERROR)
            if failed
            else self._output(handle.version, request, s)
            for request, failed in zip(requests, failures, strict=True)
        ]

    def _output(self, version: ModelVersion, request: ModelRequest, s: SimulationSettings) -> InvocationResult:
        data = request.input_data
        prompt = data.get("prompt", data.get("text", data.get("input", "")))
        in_tokens = estimate_tokens(prompt if prompt != "" else data)
        output: dict[str, object]
        match version.model_type:
            case ModelType.LANGUAGE_MODEL:
                output = {
                    "text": f"Generated response for: {prompt}",
                    "model": version.model_name,
                    "version": version.version_number,
                }
                out_tokens = estimate_tokens(output["text"])
            case ModelType.EMBEDDING_MODEL:
                digest = hashlib.blake2b(repr(sorted(data.items())).encode(), digest_size=64).digest()
                raw = [(digest[i % 64] - 127.5) / 127.5 for i in range(s.embedding_dim)]
                norm = math.sqrt(sum(x * x for x in raw)) or 1.0
                output = {"embedding": [x / norm for x in raw], "model": version.model_name}
                out_tokens = 0
            case ModelType.VISION_MODEL:
                digest = hashlib.blake2b(repr(sorted(data.items())).encode(), digest_size=8).digest()
                labels = ["cat", "dog", "bird", "car"]
                top = digest[0] % len(labels)
                score = 0.5 + (digest[1] / 255) * 0.5
                output = {"label": labels[top], "score": round(score, 4), "model": version.model_name}
                out_tokens = 0
            case _:
                output = {"result": "processed", "model": version.model_name}
                out_tokens = 0
        return InvocationResult(output=output, input_tokens=in_tokens, output_tokens=out_tokens)

    def unload(self, handle: ModelHandle) -> None:
        """Nothing to release."""

    def health(self, handle: ModelHandle) -> bool:
        """Healthy unless closed."""
        return not self._closed.is_set()

    def close(self) -> None:
        """Wake every sleeping load and hanging call; later calls return at once."""
        self._closed.set()


MockModelInvoker = SimulatedInvoker
"""Upstream name for the simulated invoker."""
