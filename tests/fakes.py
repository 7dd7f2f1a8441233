"""Test doubles for the ports: FakeInvoker, FakeClock, FakeRandom, RecordingSink."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from actorserve.actors.reply import SyncReply
from actorserve.domain import (
    InvocationResult,
    ModelRequest,
    ModelStatus,
    ModelType,
    ModelVersion,
    Outcome,
    ServingConfig,
)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self._t = start
        self._epoch = datetime(2026, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        return self._t

    def now(self) -> datetime:
        return self._epoch + timedelta(seconds=self._t)

    def advance(self, seconds: float) -> None:
        self._t += seconds


class SkewClock:
    """The real clock plus an offset a test can push forward (timers keep working)."""

    def __init__(self) -> None:
        import time

        self._time = time
        self.offset = 0.0

    def monotonic(self) -> float:
        return self._time.monotonic() + self.offset

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class VersionGatedInvoker:
    """Wraps a FakeInvoker; calls for the versions in `gated` block until `gate` is set."""

    def __init__(self, inner: FakeInvoker, gated: set[str], gate: threading.Event) -> None:
        self.inner = inner
        self.gated = gated
        self.gate = gate

    def load(self, version: ModelVersion) -> object:
        return self.inner.load(version)

    def invoke(self, handle: object, request: ModelRequest, timeout_s: float) -> InvocationResult:
        return self.invoke_batch(handle, [request], timeout_s)[0]

    def invoke_batch(
        self, handle: object, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        if isinstance(handle, dict) and handle["version"] in self.gated:
            self.inner._wait(self.gate)
        return self.inner.invoke_batch(handle, requests, timeout_s)

    def unload(self, handle: object) -> None:
        self.inner.unload(handle)

    def health(self, handle: object) -> bool:
        return self.inner.health(handle)

    def close(self) -> None:
        self.inner.close()


class FakeRandom:
    """Returns scripted values in turn (cycling)."""

    def __init__(self, values: Sequence[float], ints: Sequence[int] = (0,)) -> None:
        self._values = list(values)
        self._ints = list(ints)
        self._i = 0
        self._j = 0

    def random(self) -> float:
        value = self._values[self._i % len(self._values)]
        self._i += 1
        return value

    def randrange(self, stop: int, /) -> int:
        value = self._ints[self._j % len(self._ints)] % stop
        self._j += 1
        return value

    def betavariate(self, alpha: float, beta: float, /) -> float:
        return alpha / (alpha + beta)


@dataclass
class FakeInvoker:
    """A controllable `ModelInvoker`.

    Attributes:
        fail_with: raise this from invoke/invoke_batch.
        latency: seconds each call takes (waits on `closed`).
        gate: when set, calls block until `gate` is set (or the invoker closes).
        load_fail_times: the first N loads raise.
        load_gate: when set, loads block until it is set.
    """

    fail_with: BaseException | None = None
    latency: float = 0.0
    gate: threading.Event | None = None
    load_fail_times: int = 0
    load_gate: threading.Event | None = None
    output: object = "ok"
    healthy: bool = True
    probes: int = 0
    loads: int = 0
    unloads: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    started: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    closed: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self, version: ModelVersion) -> object:
        with self._lock:
            self.loads += 1
            attempt = self.loads
        if self.load_gate is not None:
            self._wait(self.load_gate)
        if attempt <= self.load_fail_times:
            msg = f"load failure {attempt}"
            raise RuntimeError(msg)
        return {"version": version.version_id, "instance": attempt}

    def _wait(self, event: threading.Event) -> None:
        while not event.is_set() and not self.closed.is_set():
            event.wait(0.01)

    def invoke(self, handle: object, request: ModelRequest, timeout_s: float) -> InvocationResult:
        return self.invoke_batch(handle, [request], timeout_s)[0]

    def invoke_batch(
        self, handle: object, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        with self._lock:
            self.batch_sizes.append(len(requests))
        self.started.release()
        if self.gate is not None:
            self._wait(self.gate)
        if self.latency:
            self.closed.wait(self.latency)
        if self.fail_with is not None:
            raise self.fail_with
        return [
            InvocationResult(output={"echo": r.input_data, "out": self.output}, input_tokens=3, output_tokens=2)
            for r in requests
        ]

    def unload(self, handle: object) -> None:
        with self._lock:
            self.unloads += 1

    def health(self, handle: object) -> bool:
        with self._lock:
            self.probes += 1
        return self.healthy and not self.closed.is_set()

    def close(self) -> None:
        self.closed.set()


@dataclass
class RecordingSink:
    """A `MetricsSink` that keeps every event (thread-safe)."""

    statuses: list[tuple[str, ModelStatus, float]] = field(default_factory=list)
    outcomes: list[tuple[str, Outcome]] = field(default_factory=list)
    loads: list[tuple[str, float]] = field(default_factory=list)
    gauges: list[tuple[str, int, int, int]] = field(default_factory=list)
    batches: list[tuple[str, int, float]] = field(default_factory=list)
    costs: list[tuple[str, float, float]] = field(default_factory=list)
    active: bool = True
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def replica_loaded(self, version: ModelVersion, load_s: float) -> None:
        with self._lock:
            self.loads.append((version.version_id, load_s))

    def load_changed(self, version: ModelVersion, queue_depth: int, in_flight: int, replicas_ready: int) -> None:
        with self._lock:
            self.gauges.append((version.version_id, queue_depth, in_flight, replicas_ready))
            self._lock.notify_all()

    def batch_finished(self, version: ModelVersion, size: int, duration_s: float) -> None:
        with self._lock:
            self.batches.append((version.version_id, size, duration_s))

    def batch_cost_changed(self, version: ModelVersion, per_item_s: float, fixed_s: float) -> None:
        with self._lock:
            self.costs.append((version.version_id, per_item_s, fixed_s))

    def batch_sizes(self, version_id: str) -> list[int]:
        with self._lock:
            return [n for vid, n, _ in self.batches if vid == version_id]

    def status_changed(self, version: ModelVersion, status: ModelStatus, at: float) -> None:
        with self._lock:
            self.statuses.append((version.version_id, status, at))
            self._lock.notify_all()

    def wait_for(self, version_id: str, status: ModelStatus, timeout: float = 5.0, *, times: int = 1) -> bool:
        """Block until `version_id` has entered `status` `times` times, up to `timeout`."""
        with self._lock:
            return self._lock.wait_for(
                lambda: sum(vid == version_id and s is status for vid, s, _ in self.statuses) >= times, timeout
            )

    def requests_completed(self, version: ModelVersion, outcomes: Sequence[Outcome]) -> None:
        with self._lock:
            self.outcomes.extend((version.version_id, o) for o in outcomes)

    def wait_gauges(self, version_id: str, predicate: Callable[[int, int, int], bool], timeout: float = 5.0) -> bool:
        """Block until a `load_changed` event of `version_id` satisfies `predicate(queue, in_flight, ready)`."""
        with self._lock:
            return self._lock.wait_for(
                lambda: any(vid == version_id and predicate(q, f, r) for vid, q, f, r in self.gauges), timeout
            )

    def history(self, version_id: str) -> list[ModelStatus]:
        with self._lock:
            return [s for vid, s, _ in self.statuses if vid == version_id]

    def first(self, version_id: str, status: ModelStatus) -> float | None:
        with self._lock:
            return next((at for vid, s, at in self.statuses if vid == version_id and s is status), None)


def make_version(
    version_id: str = "v1",
    model_name: str = "chat",
    *,
    number: str = "1.0.0",
    model_type: ModelType = ModelType.LANGUAGE_MODEL,
    parameters: dict[str, object] | None = None,
    framework: str = "pytorch",
    endpoint: str | None = None,
    **serving: Any,
) -> ModelVersion:
    return ModelVersion(
        version_id=version_id,
        model_name=model_name,
        version_number=number,
        model_type=model_type,
        status=ModelStatus.LOADING,
        framework=framework,
        endpoint=endpoint,
        parameters=parameters or {},
        serving=ServingConfig(**serving),
    )


if TYPE_CHECKING:
    from actorserve.actors import ServingRuntime


def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """True once `predicate()` holds, checking every few milliseconds up to `timeout`.

    For state that crosses actors with no event to wait on (the registry's
    view of a probe, say); everything with a reply or an event waits on that.
    """
    waiter = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        waiter.wait(0.005)
    return True


def status(version: ModelVersion) -> ModelStatus:
    """The live status (a call, so type checkers do not narrow it across actor updates)."""
    return version.status


def submit_many(
    rt: ServingRuntime, n: int, model: str = "chat", input_data: dict[str, object] | None = None, **kwargs: Any
) -> list[SyncReply[Any]]:
    """Send `n` requests without waiting; returns their replies in order."""
    replies: list[SyncReply[Any]] = [SyncReply() for _ in range(n)]
    for reply in replies:
        rt.submit(model, input_data or {}, reply, **kwargs)
    return replies
