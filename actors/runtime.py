"""ServingRuntime: the composition root. Starts the actors in order, stops them in reverse."""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeVar

import pykka

from actorserve.actors.base import describe_exception
from actorserve.actors.clock import SystemClock
from actorserve.actors.experiments.api import Experiments
from actorserve.actors.experiments.base import ExperimentDeps
from actorserve.actors.invoker_set import InvokerSet
from actorserve.actors.messages import (
    GetMetrics,
    Health,
    ListVersions,
    Lookup,
    Register,
    SetRouting,
    Shutdown,
    Unload,
    WaitReady,
)
from actorserve.actors.plugins import load_exporter, load_server
from actorserve.actors.registry import RegistryActor
from actorserve.actors.reply import SyncReply, wait_budget
from actorserve.actors.request_path import RequestPath
from actorserve.actors.requests import RequestIds
from actorserve.actors.router import RouterActor
from actorserve.actors.scheduler import Scheduler
from actorserve.actors.sinks import NullSink, SinkFanout
from actorserve.actors.tracking import ThreadTracker
from actorserve.domain.cost import PriceTable
from actorserve.domain.entities import ModelMetrics, ModelVersion
from actorserve.domain.enums import RoutingStrategy
from actorserve.domain.errors import ConfigError
from actorserve.domain.ports import (
    Clock,
    CostCalculator,
    MetricsExporter,
    MetricsSink,
    ModelInvoker,
    NetworkServer,
    RandomSource,
    ValidatingInvoker,
)
from actorserve.domain.routing import RoutingRule

__all__ = ["NullSink", "ServingRuntime"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class ServingRuntime(RequestPath):
    """An embedded model-serving runtime: register versions, serve requests, drain, stop.

    Thread-safe: any host thread may call any method; `aserve` is for asyncio
    callers and never blocks the loop. Model failures never raise: they come
    back as a failed `ModelResponse` with an `error_code`. Use as a context
    manager, or call `stop()`, which drains every version and joins every
    thread the runtime started.

    Args:
        invoker: the model backend for every version (default: an `InvokerSet`
            choosing each version's backend by its `framework` or
            `parameters["invoker"]`, falling back to the simulated one).
        clock: time source (default: the system clock).
        cost_calculator: prices requests (default: a `PriceTable` reading
            `price_*` keys from each version's parameters).
        metrics_sink: receives lifecycle and request events from version actors.
        rng: random source for routing policies (default: seeded from `seed`).
        seed: makes routing and experiment assignment repeatable.
        call_timeout_s: how long control calls (register, unload, ...) wait for the actors.
    """

    def __init__(
        self,
        invoker: ModelInvoker | None = None,
        *,
        clock: Clock | None = None,
        cost_calculator: CostCalculator | None = None,
        metrics_sink: MetricsSink | None = None,
        rng: RandomSource | None = None,
        seed: int | None = None,
        call_timeout_s: float = 10.0,
    ) -> None:
        self._invoker: ModelInvoker = invoker if invoker is not None else InvokerSet()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._call_timeout_s = call_timeout_s
        self._max_timeout_ms = 30_000.0
        self._max_drain_s = 0.0
        self._closed = False
        self._stopped = False
        self._stop_lock = threading.Lock()
        self._stop_done = threading.Event()
        self._next_id = RequestIds()
        self.tracker = ThreadTracker()
        self._scheduler = Scheduler(self._clock)
        self._sinks = SinkFanout([metrics_sink] if metrics_sink is not None else [])
        self._exporters: list[MetricsExporter] = []
        self._servers: list[NetworkServer] = []
        try:
            if rng is None and seed is not None:
                rng = random.Random(seed)
            self._router = RouterActor.start(clock=self._clock, tracker=self.tracker, rng=rng)
            self._registry = RegistryActor.start(
                invoker=self._invoker,
                clock=self._clock,
                scheduler=self._scheduler,
                cost=cost_calculator if cost_calculator is not None else PriceTable(),
                sink=self._sinks,
                tracker=self.tracker,
                router=self._router,
            )
        except BaseException:
            router = getattr(self, "_router", None)
            if router is not None:
                router.stop(block=False)
            self._scheduler.stop()
            raise
        self.experiments = Experiments(
            self, ExperimentDeps(self._router, self._registry, self._clock, self.tracker), seed
        )
        """A/B tests, shadows, ensembles and canaries on this runtime."""

    # --- context manager -----------------------------------------------------

    def __enter__(self) -> ServingRuntime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- control plane -------------------------------------------------------

    def _call(self, ref: pykka.ActorRef[Any], message: object, reply: SyncReply[T], what: str) -> T:
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            msg = f"{what}: the runtime is stopped"
            raise RuntimeError(msg) from None
        if not reply.wait(self._call_timeout_s):
            msg = f"{what}: no answer within {self._call_timeout_s:g}s"
            raise TimeoutError(msg)
        return reply.value()

    def register(self, version: ModelVersion) -> bool:
        """Start loading `version`; False if its id is already live or the runtime stopped.

        Raises:
            ConfigError: (a ValueError) when `version` or its parameters are invalid.
        """
        if not isinstance(version, ModelVersion):
            msg = f"version: must be a ModelVersion (got {type(version).__name__})"
            raise ConfigError(msg, field="version")
        PriceTable().price_for(version)  # validates price_* parameters early
        if isinstance(self._invoker, ValidatingInvoker):
            self._invoker.validate(version)  # an unknown backend, a missing extra or a bad parameter fails here
        if self._closed:
            return False
        self._max_timeout_ms = max(self._max_timeout_ms, version.serving.timeout_ms)
        self._max_drain_s = max(self._max_drain_s, version.serving.drain_timeout_s)
        reply: SyncReply[bool] = SyncReply()
        return self._call(self._registry, Register(version, reply), reply, "register")

    def unload(self, version_id: str) -> bool:
        """Drain and stop a version; False if unknown or already stopped.

        From the moment this returns no new request is routed to the version;
        requests it already holds finish (or are answered UNAVAILABLE after
        its `drain_timeout_s`).
        """
        if self._closed or not isinstance(version_id, str):
            return False
        reply: SyncReply[bool] = SyncReply()
        return self._call(self._registry, Unload(version_id, reply), reply, "unload")

    def wait_ready(self, version_or_model: str, timeout: float = 30.0) -> bool:
        """Block until the version (or any version of the model) is READY.

        Returns False on timeout, or as soon as it can no longer become READY.
        A timeout beyond what a wait can express is waited as the longest one that can.

        Raises:
            ConfigError: (a ValueError) when `timeout` is not a number.
        """
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or math.isnan(timeout):
            msg = f"timeout: must be a number of seconds (got {timeout!r})"
            raise ConfigError(msg, field="timeout")
        if self._closed or not isinstance(version_or_model, str):
            return False
        reply: SyncReply[bool] = SyncReply()
        try:
            self._registry.tell(WaitReady(version_or_model, reply))
        except pykka.ActorDeadError:
            return False
        if reply.wait(timeout):
            return reply.value()
        # Answer it ourselves, so the registry drops this waiter instead of keeping it until the version settles.
        reply.set(False)
        return reply.value()

    def set_routing(
        self,
        model_name: str,
        strategy: RoutingStrategy | str | None,
        weights: Mapping[str, float] | None = None,
        *,
        bandit: Mapping[str, float] | None = None,
    ) -> None:
        """Route `model_name` by `strategy` (None: back to the newest READY version).

        `weights` are for WEIGHTED; `bandit` holds `BanditSettings` fields
        (latency_weight, cost_weight, latency_ref_ms, cost_ref_usd) for INTELLIGENT.

        Raises:
            ConfigError: (a ValueError) naming the bad field.
        """
        if not isinstance(model_name, str) or not model_name.strip():
            raise ConfigError(f"model_name: must be a non-empty string (got {model_name!r})", field="model_name")
        rule = None if strategy is None else RoutingRule.create(strategy, weights, bandit)
        reply: SyncReply[bool] = SyncReply()
        self._call(self._router, SetRouting(model_name, rule, reply), reply, "set_routing")

    def get_version(self, version_id: str) -> ModelVersion | None:
        """The registered `ModelVersion` (its status is live), or None."""
        found = self._lookup(version_id)
        return None if found is None else found[0]

    def list_versions(self) -> list[ModelVersion]:
        """Every version registered, in registration order."""
        if self._stopped:
            return []
        reply: SyncReply[list[ModelVersion]] = SyncReply()
        return self._call(self._registry, ListVersions(reply), reply, "list_versions")

    def get_metrics(self, version_id: str) -> ModelMetrics | None:
        """A snapshot of the version's metrics (its final figures once stopped), or None."""
        found = self._lookup(version_id)
        if found is None:
            return None
        _, ref, final = found
        if ref is not None:
            reply: SyncReply[ModelMetrics] = SyncReply()
            try:
                ref.tell(GetMetrics(reply))
                if reply.wait(self._call_timeout_s):
                    return reply.value()
            except pykka.ActorDeadError:
                pass
            found = self._lookup(version_id)
            final = found[2] if found else final
        return final if final is not None else ModelMetrics(version_id=version_id)

    def health(self) -> dict[str, object]:
        """Liveness, readiness and each version's state, for a health endpoint.

        `{"live", "ready", "versions": {id: {model, status, ready, required,
        generation, last_error, healthy, replicas_healthy, replicas_probed,
        probe_error}}}`. `live` is False once `stop()` began. `ready` is True
        when some version is READY and every version marked `required` (the
        default; see `ServingConfig.required`) and not unloaded is READY, so a
        runtime with no versions is not ready. `healthy` is None until the
        first invoker health probe (`ServingConfig.health_check_period_s`), then
        whether every loaded replica passed its latest probe.
        """
        if self._stopped:
            return {"live": False, "ready": False, "versions": {}}
        reply: SyncReply[dict[str, object]] = SyncReply()
        return self._call(self._registry, Health(reply), reply, "health")

    # --- metrics export ------------------------------------------------------

    def add_metrics_sink(self, sink: MetricsSink) -> None:
        """Send every later version event to `sink` too (e.g. a `PrometheusExporter` on your own registry)."""
        self._sinks.add(sink)

    def serve_metrics(self, port: int = 0, host: str = "127.0.0.1", *, exporter: str = "prometheus") -> int:
        """Start a metrics endpoint (Prometheus text format at `/metrics`); returns the port it listens on.

        The exporter is fed by the version actors' events from now on, and
        seeded with the status and load of versions already registered.
        `stop()` shuts the endpoint down.

        Raises:
            ConfigError: the exporter is unknown or its extra is not installed.
            OSError: the port is taken.
            RuntimeError: the runtime is stopped.
        """
        if self._closed:
            msg = "serve_metrics: the runtime is stopped"
            raise RuntimeError(msg)
        made = load_exporter(exporter)
        bound = made.serve(host, port)  # first: a taken port leaves nothing attached
        self._exporters.append(made)  # stop() closes it from here on
        self._sinks.add(made)
        now = self._clock.monotonic()
        for version in self.list_versions():
            made.status_changed(version, version.status, now)
            m = self.get_metrics(version.version_id)
            if m is not None:
                made.load_changed(version, m.queue_depth, m.in_flight, m.replicas_ready)
        return bound

    def serve_http(self, port: int = 0, host: str = "127.0.0.1", **app_options: object) -> int:
        """Serve the HTTP front (V2 and OpenAI-compatible routes) from a thread; returns the bound port.

        `app_options` go to `actorserve.adapters.http.create_app` (api_keys,
        api_keys_env, max_body_bytes, public_paths, ...). `stop()` first stops
        accepting, lets the requests in progress finish, then joins the thread.

        Raises:
            ConfigError: the `server` extra is not installed, or an option is invalid.
            OSError: the port is taken.
            RuntimeError: the runtime is stopped.
        """
        if self._closed:
            msg = "serve_http: the runtime is stopped"
            raise RuntimeError(msg)
        server = load_server("http", self, **app_options)
        bound = server.serve(host, port)
        self._servers.append(server)  # stop() closes it from here on
        return bound

    def _lookup(self, version_id: str) -> tuple[ModelVersion, pykka.ActorRef[Any] | None, ModelMetrics | None] | None:
        if self._stopped or not isinstance(version_id, str):
            return None
        reply: SyncReply[tuple[ModelVersion, pykka.ActorRef[Any] | None, ModelMetrics | None] | None]
        reply = SyncReply()
        return self._call(self._registry, Lookup(version_id, reply), reply, "lookup")

    # --- shutdown ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once `stop()` began: new requests are answered UNAVAILABLE."""
        return self._closed

    @property
    def stopped(self) -> bool:
        """True once `stop()` finished."""
        return self._stopped

    def stop(self, timeout: float | None = None) -> None:
        """Drain every version, then stop the actors and join every thread started.

        Args:
            timeout: overall budget in seconds (default: the longest
                `drain_timeout_s` of any version plus 10 s). Idempotent, and
                safe from several threads at once: the first caller stops the
                runtime, the others return as soon as it is stopped.
        """
        budget = wait_budget(timeout if timeout is not None else self._max_drain_s + 10.0)
        with self._stop_lock:
            first = not self._closed
            self._closed = True
        if not first:
            self._stop_done.wait(budget)
            return
        try:
            self._stop(budget)
        finally:
            self._stop_done.set()

    def _stop(self, budget: float) -> None:
        deadline = self._clock.monotonic() + budget
        try:
            for server in self._servers:  # first: stop accepting; what it accepted is answered while versions serve
                try:
                    server.close(max(deadline - self._clock.monotonic(), 0.0))
                except Exception as exc:  # noqa: BLE001 - shutdown goes on
                    log.warning("server close failed: %s", describe_exception(exc))
            self.experiments.stop_all()
            reply: SyncReply[bool] = SyncReply()
            try:
                self._registry.tell(Shutdown(reply))
                if not reply.wait(deadline - self._clock.monotonic()):
                    log.warning("versions did not drain within %.1fs", budget)
            except pykka.ActorDeadError:
                pass
        finally:
            try:
                self._invoker.close()
            except Exception as exc:  # noqa: BLE001 - shutdown goes on
                log.warning("invoker close failed: %s", describe_exception(exc))
            for made in self._exporters:
                try:
                    made.close()
                except Exception as exc:  # noqa: BLE001 - shutdown goes on
                    log.warning("exporter close failed: %s", describe_exception(exc))
            remaining = wait_budget(max(deadline - self._clock.monotonic(), 1.0))
            for ref in (self._registry, self._router):
                try:
                    ref.stop(block=True, timeout=remaining)
                except (pykka.Timeout, pykka.ActorDeadError):
                    pass
            self._scheduler.stop(timeout=remaining)
            leftovers = self.tracker.join_all(wait_budget(max(deadline - self._clock.monotonic(), 2.0)))
            if leftovers:
                log.warning("threads still running after stop: %s", [t.name for t in leftovers])
            self._stopped = True

    def threads(self) -> list[Any]:
        """Threads this runtime started that are still alive (actors and the timer)."""
        alive = self.tracker.alive()
        if self._scheduler.thread.is_alive():
            alive.append(self._scheduler.thread)
        return alive
