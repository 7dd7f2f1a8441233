"""ServingRuntime: the composition root. Starts the actors in order, stops them in reverse."""

from __future__ import annotations

import atexit
import logging
import math
import random
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import pykka

from actorserve.actors.base import describe_exception
from actorserve.actors.clock import SystemClock
from actorserve.actors.control import ControlPlane
from actorserve.actors.durable import Durability
from actorserve.actors.endpoints import Endpoints
from actorserve.actors.experiments.api import Experiments
from actorserve.actors.experiments.base import ExperimentDeps
from actorserve.actors.experiments.records import ExperimentRecords
from actorserve.actors.invoker_set import InvokerSet
from actorserve.actors.messages import (
    Register,
    SetRouting,
    Shutdown,
    Unload,
    WaitReady,
    Write,
)
from actorserve.actors.registry import RegistryActor
from actorserve.actors.reply import Reply, SyncReply, wait_budget
from actorserve.actors.request_path import Call, RequestPath
from actorserve.actors.router import RouterActor
from actorserve.actors.scheduler import Scheduler
from actorserve.actors.sinks import NullSink, SinkFanout
from actorserve.actors.tracking import ThreadTracker
from actorserve.domain.cost import PriceTable
from actorserve.domain.entities import ModelMetrics, ModelResponse, ModelVersion
from actorserve.domain.enums import RoutingStrategy
from actorserve.domain.errors import ConfigError, StateError
from actorserve.domain.ports import (
    Clock,
    CostCalculator,
    MetricsSink,
    ModelInvoker,
    RandomSource,
    StateStore,
    ValidatingInvoker,
)
from actorserve.domain.records import ROUTING, VERSION, routing_record, version_record
from actorserve.domain.routing import RoutingRule
from actorserve.domain.state import DEFAULT_NAMESPACE

__all__ = ["NullSink", "ServingRuntime"]

log = logging.getLogger(__name__)

_running: set[ServingRuntime] = set()
"""Runtimes not yet stopped: stopped at interpreter exit, so a program that forgot `stop()` still drains.

Strong references: a runtime dropped without `stop()` keeps its threads running, so it must not vanish from here.
"""
_running_lock = threading.Lock()

_AT_EXIT_BUDGET_S = 10.0


@atexit.register
def _stop_at_exit() -> None:
    with _running_lock:
        running = list(_running)
    for rt in running:
        rt.stop(timeout=_AT_EXIT_BUDGET_S)


class ServingRuntime:
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
        state: where versions, routing rules and experiments are kept across
            restarts and shared between processes: None (memory only), a
            store URL (`sqlite:///state.db`, `redis://host:6379/0`,
            `unix:///path/redis.sock`) or an open `StateStore`. With a store,
            the runtime restores what it holds at start (README "State").
        state_namespace: the store's namespace; runtimes share what is under the same one.
        state_required: a store URL that cannot be opened raises `StateError`
            (True), or leaves the runtime memory-only with a warning (False).
        flush_interval_s: how often statistics are written behind to the store.

    Raises:
        StateError: the store cannot be opened (and `state_required`), or holds a newer schema.
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
        state: StateStore | str | None = None,
        state_namespace: str = DEFAULT_NAMESPACE,
        state_required: bool = True,
        flush_interval_s: float = 1.0,
    ) -> None:
        self._invoker: ModelInvoker = invoker if invoker is not None else InvokerSet()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._max_drain_s = 0.0
        self._stop_lock = threading.Lock()
        self._stop_done = threading.Event()
        self.tracker = ThreadTracker()
        self._scheduler = Scheduler(self._clock)
        self._sinks = SinkFanout([metrics_sink] if metrics_sink is not None else [])
        self._endpoints = Endpoints(self._sinks, self._clock)
        try:
            self._state = Durability(
                state,
                namespace=state_namespace,
                required=state_required,
                flush_interval_s=flush_interval_s,
                clock=self._clock,
                scheduler=self._scheduler,
                tracker=self.tracker,
                sink=self._sinks,
                call_timeout_s=call_timeout_s,
            )
            if rng is None and seed is not None:
                rng = random.Random(seed)
            self._router = RouterActor.start(clock=self._clock, tracker=self.tracker, rng=rng, state=self._state.actor)
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
            if hasattr(self, "_state"):
                self._state.close(1.0)
            self._scheduler.stop()
            raise
        self._path = RequestPath(self._clock, self._router)
        self._control = ControlPlane(self._registry, call_timeout_s)
        self.experiments = Experiments(
            self._control,
            self._path,
            ExperimentDeps(self._router, self._registry, self._clock, self.tracker),
            seed,
            ExperimentRecords(self._state),
        )
        """A/B tests, shadows, ensembles and canaries on this runtime."""
        with _running_lock:
            _running.add(self)
        if self._state.durable:
            try:
                self._state.restore(self._restore_version, self._apply_routing)
                self.experiments.restore()
            except BaseException:
                self.stop()
                raise

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

    # --- requests ------------------------------------------------------------

    def serve(
        self,
        model_name: str,
        input_data: dict[str, object],
        *,
        version_id: str | None = None,
        parameters: dict[str, object] | None = None,
        timeout_ms: float | None = None,
        key: str | None = None,
    ) -> ModelResponse:
        """Serve one request and block until its one response (never raises for model errors).

        Args:
            model_name: the model; routed to a READY version by its routing rule.
            input_data: the model input (a dict).
            version_id: pin a specific version instead of routing.
            parameters: per-request parameters passed to the invoker.
            timeout_ms: deadline from now; default: the chosen version's `timeout_ms`.
            key: a sticky-routing key (same key, same version while it is READY).
        """
        return self._path.serve(Call(model_name, input_data, version_id, parameters, timeout_ms, key))

    async def aserve(
        self,
        model_name: str,
        input_data: dict[str, object],
        *,
        version_id: str | None = None,
        parameters: dict[str, object] | None = None,
        timeout_ms: float | None = None,
        key: str | None = None,
    ) -> ModelResponse:
        """`serve` for asyncio: awaits the response without blocking the event loop.

        Cancelling the awaiting task answers the request CANCELLED, so a version
        that has not started it yet never will.
        """
        return await self._path.aserve(Call(model_name, input_data, version_id, parameters, timeout_ms, key))

    def submit(
        self,
        model_name: str,
        input_data: dict[str, object],
        reply: Reply[ModelResponse],
        *,
        version_id: str | None = None,
        parameters: dict[str, object] | None = None,
        timeout_ms: float | None = None,
        key: str | None = None,
    ) -> str:
        """Send one request without waiting; its one answer completes `reply`. Returns the request id.

        For callers that fan out or fire and forget (ensembles, shadows).
        """
        return self._path.submit(reply, Call(model_name, input_data, version_id, parameters, timeout_ms, key))

    def await_reply(self, reply: SyncReply[ModelResponse], budget_s: float | None = None) -> ModelResponse:
        """Wait for a `submit`ted request's answer; TIMEOUT after the budget."""
        return self._path.await_reply(reply, budget_s)

    # --- control plane -------------------------------------------------------

    def register(self, version: ModelVersion) -> bool:
        """Start loading `version`; False if its id is already live or the runtime stopped.

        Raises:
            ConfigError: (a ValueError) when `version` or its parameters are invalid.
        """
        if not isinstance(version, ModelVersion):
            msg = f"version: must be a ModelVersion (got {type(version).__name__})"
            raise ConfigError(msg, field="version")
        record = version_record(version) if self._state.durable else None  # a value JSON cannot hold fails here
        if not self._restore_version(version):
            return False
        if record is not None:
            try:
                self._state.persist(Write(VERSION, version.version_id, record), what=f"register {version.version_id}")
            except StateError:
                self.unload(version.version_id)  # nothing is registered that would not come back
                raise
        return True

    def _restore_version(self, version: ModelVersion) -> bool:
        """`register` without the durable write (the restore at start registers what the store holds)."""
        PriceTable().price_for(version)  # validates price_* parameters early
        if isinstance(self._invoker, ValidatingInvoker):
            self._invoker.validate(version)  # an unknown backend, a missing extra or a bad parameter fails here
        if self._path.closed:
            return False
        self._path.allow_timeout(version.serving.timeout_ms)
        self._max_drain_s = max(self._max_drain_s, version.serving.drain_timeout_s)
        reply: SyncReply[bool] = SyncReply()
        return self._control.call(self._registry, Register(version, reply), reply, "register")

    def unload(self, version_id: str) -> bool:
        """Drain and stop a version; False if unknown or already stopped.

        From the moment this returns no new request is routed to the version;
        requests it already holds finish (or are answered UNAVAILABLE after
        its `drain_timeout_s`).
        """
        if self._path.closed or not isinstance(version_id, str):
            return False
        reply: SyncReply[bool] = SyncReply()
        unloaded = self._control.call(self._registry, Unload(version_id, reply), reply, "unload")
        if unloaded:  # a tombstone: an unloaded version stays gone after a restart
            self._state.persist(Write(VERSION, version_id, None), what=f"unload {version_id}")
        return unloaded

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
        if self._path.closed or not isinstance(version_or_model, str):
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
        self._state.persist(Write(ROUTING, model_name, routing_record(rule)), what=f"set_routing {model_name}")
        self._apply_routing(model_name, rule)

    def _apply_routing(
        self, model_name: str, rule: RoutingRule | None, posteriors: Mapping[str, tuple[float, float]] | None = None
    ) -> None:
        reply: SyncReply[bool] = SyncReply()
        self._control.call(self._router, SetRouting(model_name, rule, reply, posteriors), reply, "set_routing")

    def get_version(self, version_id: str) -> ModelVersion | None:
        """The registered `ModelVersion` (its status is live), or None."""
        return self._control.get_version(version_id)

    def list_versions(self) -> list[ModelVersion]:
        """Every version registered, in registration order."""
        return self._control.list_versions()

    def get_metrics(self, version_id: str) -> ModelMetrics | None:
        """A snapshot of the version's metrics (its final figures once stopped), or None."""
        return self._control.metrics(version_id)

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
        report = self._control.health()
        state = self._state.status()
        if state is not None and not self._control.stopped:
            report["state"] = state
        return report

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
        if self._path.closed:
            msg = "serve_metrics: the runtime is stopped"
            raise RuntimeError(msg)
        return self._endpoints.serve_metrics(exporter, host, port, self.list_versions, self.get_metrics)

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
        if self._path.closed:
            msg = "serve_http: the runtime is stopped"
            raise RuntimeError(msg)
        return self._endpoints.serve_http(self, host, port, app_options)

    # --- shutdown ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once `stop()` began: new requests are answered UNAVAILABLE."""
        return self._path.closed

    @property
    def stopped(self) -> bool:
        """True once `stop()` finished."""
        return self._control.stopped

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
            first = not self._path.closed
            self._path.close()
        if not first:
            self._stop_done.wait(budget)
            return
        try:
            self._stop(budget)
        finally:
            with _running_lock:
                _running.discard(self)
            self._stop_done.set()

    def _stop(self, budget: float) -> None:
        deadline = self._clock.monotonic() + budget
        try:
            # first: stop accepting; what the servers accepted is answered while the versions still serve
            self._endpoints.stop_accepting(lambda: deadline - self._clock.monotonic())
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
            self._endpoints.close_exporters()
            remaining = wait_budget(max(deadline - self._clock.monotonic(), 1.0))
            for ref in (self._registry, self._router):
                try:
                    ref.stop(block=True, timeout=remaining)
                except (pykka.Timeout, pykka.ActorDeadError):
                    pass
            self._state.close(remaining)  # last: statistics written at stop, then the store closed
            self._scheduler.stop(timeout=remaining)
            leftovers = self.tracker.join_all(wait_budget(max(deadline - self._clock.monotonic(), 2.0)))
            if leftovers:
                log.warning("threads still running after stop: %s", [t.name for t in leftovers])
            self._control.mark_stopped()

    def threads(self) -> list[Any]:
        """Threads this runtime started that are still alive (actors and the timer)."""
        alive = self.tracker.alive()
        if self._scheduler.thread.is_alive():
            alive.append(self._scheduler.thread)
        return alive
