"""Per-version serving policy: admission, batching, deadlines, draining, supervision."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from actorserve.domain.errors import ConfigError

__all__ = ["AUTO", "MAX_WAIT_S", "ServingConfig"]

AUTO: Literal["auto"] = "auto"
"""`batch_wait_ms = AUTO`: size batches from the backend's measured cost and the requests' deadlines."""

MAX_WAIT_S = 86_400.0
"""The longest any deadline, timer or drain may be (one day).

A longer one is a typo or a unit mix-up (a deadline in microseconds), and past
`threading.TIMEOUT_MAX` a wait cannot even be expressed, so values beyond it
are refused by name instead of failing later inside a wait.
"""


def _require(condition: bool, field: str, rule: str, value: object) -> None:
    if not condition:
        msg = f"{field}: must be {rule} (got {value!r})"
        raise ConfigError(msg, field=field)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_WAITS = (
    ("timeout_ms", ">", 1000.0),
    ("health_check_timeout_s", ">", 1.0),
    ("batch_wait_ms", ">=", 1000.0),
    ("drain_timeout_s", ">=", 1.0),
    ("restart_backoff_s", ">=", 1.0),
    ("load_backoff_s", ">=", 1.0),
    ("health_check_period_s", ">=", 1.0),
)
"""Durations the actors wait on: (field, lower bound, units per second), each at most `MAX_WAIT_S`."""


@dataclass(frozen=True, slots=True)
class ServingConfig:
    """How one model version is served. Attached as `ModelVersion.serving`.

    Attributes:
        replicas: model instances, each loaded by its own worker actor and
            running one batch at a time.
        max_concurrency: requests handed to workers at once across the version
            (running, or waiting in a worker's inbox); None means
            `replicas * max_batch_size * pipeline_depth`.
        max_queue: requests waiting for a worker; beyond it, OVERLOADED at once.
        timeout_ms: default per-request deadline, counted from the call.
        max_batch_size: most requests handed to a worker in one batch.
        batch_wait_ms: longest a partial batch waits for more requests, or
            "auto": each time a worker is free, the version decides from the
            backend's fitted batch cost, the arrival rate and the deadlines
            how many to hand it and whether waiting for more pays
            (`actorserve.domain.batching`).
        drain_timeout_s: on unload, how long queued and in-flight requests may
            take before they are answered UNAVAILABLE.
        max_restarts: crash restarts allowed within `restart_window_s`.
        restart_window_s: the sliding window for `max_restarts`.
        restart_backoff_s: first restart delay; doubles per restart in the window.
        load_retries: retries of a failed load per replica before giving up.
        load_backoff_s: first load-retry delay; doubles per retry.
        wait_for_all_replicas: READY only once every replica loaded (else the first).
        pipeline_depth: batches a worker may hold: one running, the rest full
            batches waiting in its inbox, so it never idles between batches.
        required: the runtime is ready only while this version is READY
            (false for a canary or shadow the app can live without).
        health_check_period_s: how often each loaded replica's invoker health
            probe runs while the version serves; 0 turns probes off.
        health_check_threshold: consecutive failed probes after which the
            replica is restarted, like a crashed one.
        health_check_timeout_s: a probe still unanswered this long (a hung
            backend call holds the worker) counts as failed, once per period.
        max_latency_ms: with `batch_wait_ms = "auto"`, the latency objective
            a batch must meet, counted from each request's arrival (None:
            deadlines only); set without "auto" it is refused.
    """

    replicas: int = 1
    max_concurrency: int | None = None
    max_queue: int = 1024
    timeout_ms: float = 30_000.0
    max_batch_size: int = 1
    batch_wait_ms: float | Literal["auto"] = 0.0
    drain_timeout_s: float = 30.0
    max_restarts: int = 3
    restart_window_s: float = 60.0
    restart_backoff_s: float = 0.1
    load_retries: int = 2
    load_backoff_s: float = 0.2
    wait_for_all_replicas: bool = False
    pipeline_depth: int = 2
    required: bool = True
    health_check_period_s: float = 10.0
    health_check_threshold: int = 3
    health_check_timeout_s: float = 30.0
    max_latency_ms: float | None = None

    def __post_init__(self) -> None:
        for name in ("replicas", "max_queue", "max_batch_size", "pipeline_depth", "health_check_threshold"):
            value = getattr(self, name)
            _require(_is_int(value) and value >= 1, name, "an integer >= 1", value)
        for name in ("max_restarts", "load_retries"):
            value = getattr(self, name)
            _require(_is_int(value) and value >= 0, name, "an integer >= 0", value)
        if self.max_concurrency is not None:
            _require(
                _is_int(self.max_concurrency) and self.max_concurrency >= 1,
                "max_concurrency",
                "an integer >= 1 or None",
                self.max_concurrency,
            )
        _require(
            _is_number(self.restart_window_s) and self.restart_window_s > 0,
            "restart_window_s",
            "a number > 0",
            self.restart_window_s,
        )
        for name, low, scale in _WAITS:
            value = getattr(self, name)
            if name == "batch_wait_ms" and value == AUTO:
                continue
            most = MAX_WAIT_S * scale
            ok = _is_number(value) and (value > 0 if low == ">" else value >= 0) and value <= most
            also = ' or "auto"' if name == "batch_wait_ms" else ""
            _require(ok, name, f"a number {low} 0 and <= {most:.0f}{also}", value)
        if self.max_latency_ms is not None:
            most = MAX_WAIT_S * 1000.0
            value = self.max_latency_ms
            ok = _is_number(value) and 0 < value <= most
            _require(ok, "max_latency_ms", f"a number > 0 and <= {most:.0f}, or None", value)
            _require(self.adaptive_batching, "max_latency_ms", 'set only with batch_wait_ms = "auto"', value)
        for name in ("wait_for_all_replicas", "required"):
            _require(isinstance(getattr(self, name), bool), name, "a boolean", getattr(self, name))

    @property
    def adaptive_batching(self) -> bool:
        """True when `batch_wait_ms` is "auto"."""
        return self.batch_wait_ms == AUTO

    @property
    def batch_wait_s(self) -> float:
        """The fixed batch wait in seconds (0 with "auto": the policy decides each wait)."""
        wait = self.batch_wait_ms
        return 0.0 if isinstance(wait, str) else wait / 1000.0

    @property
    def effective_max_concurrency(self) -> int:
        """The concurrency cap with the default resolved."""
        if self.max_concurrency is not None:
            return self.max_concurrency
        return self.replicas * self.max_batch_size * self.pipeline_depth

    @classmethod
    def from_mapping(cls, data: dict[str, object], *, where: str = "serving") -> ServingConfig:
        """Build from a config-file table, rejecting unknown keys by name.

        Raises:
            ConfigError: for an unknown key or an invalid value.
        """
        known = set(cls.__dataclass_fields__)
        for key in data:
            if key not in known:
                msg = f"{where}.{key}: unknown key (expected one of: {', '.join(sorted(known))})"
                raise ConfigError(msg, field=f"{where}.{key}")
        try:
            return cls(**data)  # type: ignore[arg-type]
        except ConfigError as exc:
            raise ConfigError(f"{where}.{exc}", field=f"{where}.{exc.field}") from None
