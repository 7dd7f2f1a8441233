"""PrometheusExporter: version events as Prometheus metrics, labelled `model` and `version`.

A `MetricsSink`: version actors push events from their own threads, so a
scrape never asks an actor anything. Each metric lives in the exporter's own
`CollectorRegistry` unless one is given, so two runtimes (or two tests) in one
process never collide.

| metric | type | labels |
|---|---|---|
| `actorserve_requests_total` | counter | model, version |
| `actorserve_request_errors_total` | counter | model, version, code |
| `actorserve_request_duration_seconds` | histogram | model, version |
| `actorserve_tokens_total` | counter | model, version |
| `actorserve_cost_usd_total` | counter | model, version |
| `actorserve_queue_depth` | gauge | model, version |
| `actorserve_in_flight_requests` | gauge | model, version |
| `actorserve_replicas_ready` | gauge | model, version |
| `actorserve_version_status` | gauge (1 for the current status) | model, version, status |
| `actorserve_model_load_duration_seconds` | histogram | model, version |
| `actorserve_batch_size` | histogram (batching versions) | model, version |
| `actorserve_batch_cost_seconds` | gauge (`batch_wait_ms = "auto"`) | model, version, term (`per_item`, `fixed`) |
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from actorserve.adapters.extras import missing_extra
from actorserve.domain.entities import ModelVersion
from actorserve.domain.enums import ModelStatus
from actorserve.domain.errors import ConfigError
from actorserve.domain.metrics import Outcome

__all__ = ["LATENCY_BUCKETS_S", "PrometheusExporter"]

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Request latency buckets: sub-millisecond local models up to slow remote LLM calls."""

_LOAD_BUCKETS_S = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_STATE_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True, slots=True)
class _Series:
    """One version's children, looked up once: `labels()` takes a lock on every call."""

    requests: Any
    duration: Any
    tokens: Any
    cost: Any
    queue: Any
    in_flight: Any
    replicas: Any
    load: Any
    batch_size: Any
    per_item: Any
    fixed: Any


class PrometheusExporter:
    """Prometheus metrics for a runtime (exporter `prometheus`; extra `actorserve[prometheus]`).

    Pass one as `ServingRuntime(metrics_sink=...)` to use your own registry and
    endpoint, or call `runtime.serve_metrics(port)`, which builds one and
    serves it.

    Args:
        registry: where the metrics live (default: a new registry of their own).
        namespace: the metric name prefix.
    """

    active = True

    def __init__(self, registry: Any = None, namespace: str = "actorserve") -> None:
        try:
            import prometheus_client as prom
        except ImportError:
            raise missing_extra("prometheus_client", "prometheus", "prometheus") from None
        if not isinstance(namespace, str) or not namespace.replace("_", "").isalnum():
            raise ConfigError(f"namespace: must be letters, digits and _ (got {namespace!r})", field="namespace")
        self._prom = prom
        self.registry = registry if registry is not None else prom.CollectorRegistry()
        labels = ("model", "version")
        ns, reg = namespace, self.registry
        self._requests = prom.Counter("requests", "Requests answered", labels, namespace=ns, registry=reg)
        self._errors = prom.Counter(
            "request_errors", "Requests answered with an error, by code", (*labels, "code"), namespace=ns, registry=reg
        )
        self._duration = prom.Histogram(
            "request_duration_seconds",
            "Time from a request's arrival to its answer",
            labels,
            namespace=ns,
            registry=reg,
            buckets=LATENCY_BUCKETS_S,
        )
        self._tokens = prom.Counter("tokens", "Input plus output tokens", labels, namespace=ns, registry=reg)
        self._cost = prom.Counter("cost_usd", "Cost of the requests served, in USD", labels, namespace=ns, registry=reg)
        self._queue = prom.Gauge("queue_depth", "Requests waiting for a worker", labels, namespace=ns, registry=reg)
        self._in_flight = prom.Gauge(
            "in_flight_requests", "Requests handed to workers", labels, namespace=ns, registry=reg
        )
        self._replicas = prom.Gauge("replicas_ready", "Replicas loaded", labels, namespace=ns, registry=reg)
        self._status = prom.Gauge(
            "version_status", "1 for the version's current status", (*labels, "status"), namespace=ns, registry=reg
        )
        self._load = prom.Histogram(
            "model_load_duration_seconds",
            "Time one replica took to load",
            labels,
            namespace=ns,
            registry=reg,
            buckets=_LOAD_BUCKETS_S,
        )
        self._batch_size = prom.Histogram(
            "batch_size",
            "Requests per batch a replica ran",
            labels,
            namespace=ns,
            registry=reg,
            buckets=_BATCH_SIZE_BUCKETS,
        )
        self._batch_cost = prom.Gauge(
            "batch_cost_seconds",
            "Adaptive batching's fitted batch cost, per_item * n + fixed",
            (*labels, "term"),
            namespace=ns,
            registry=reg,
        )
        self._state_pending = prom.Gauge(
            "state_pending_events",
            "Statistics events buffered for the state store",
            ("backend",),
            namespace=ns,
            registry=reg,
        )
        self._state_flush = prom.Histogram(
            "state_flush_duration_seconds",
            "Time one write-behind flush to the state store took",
            ("backend",),
            namespace=ns,
            registry=reg,
            buckets=_STATE_BUCKETS_S,
        )
        self._state_errors = prom.Counter(
            "state_errors", "Failed writes and flushes to the state store", ("backend",), namespace=ns, registry=reg
        )
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _of(self, version: ModelVersion) -> _Series:
        key = (version.model_name, version.version_id)
        series = self._series.get(key)
        if series is None:
            with self._lock:
                series = self._series.get(key)
                if series is None:
                    per_version = (
                        self._requests,
                        self._duration,
                        self._tokens,
                        self._cost,
                        self._queue,
                        self._in_flight,
                        self._replicas,
                        self._load,
                        self._batch_size,
                    )
                    children = [m.labels(*key) for m in per_version]
                    children += [self._batch_cost.labels(*key, term) for term in ("per_item", "fixed")]
                    series = _Series(*children)
                    self._series[key] = series
        return series

    # --- MetricsSink (version threads) ------------------------------------------

    def status_changed(self, version: ModelVersion, status: ModelStatus, at: float) -> None:
        """Set the status gauge: 1 for `status`, 0 for the others."""
        for each in ModelStatus:
            self._status.labels(version.model_name, version.version_id, each.value).set(1 if each is status else 0)
        if status in (ModelStatus.STOPPED, ModelStatus.FAILED):
            self.load_changed(version, 0, 0, 0)

    def requests_completed(self, version: ModelVersion, outcomes: Sequence[Outcome]) -> None:
        """Count the answers, their latency, tokens, cost and error codes."""
        s = self._of(version)
        s.requests.inc(len(outcomes))
        tokens = 0
        cost = 0.0
        for o in outcomes:
            s.duration.observe(o.latency_ms / 1000.0)
            tokens += o.tokens
            cost += o.cost_usd
            if not o.success:
                code = o.error_code.value if o.error_code is not None else "unknown"
                self._errors.labels(version.model_name, version.version_id, code).inc()
        if tokens:
            s.tokens.inc(tokens)
        if cost > 0:
            s.cost.inc(cost)

    def replica_loaded(self, version: ModelVersion, load_s: float) -> None:
        """Observe one replica's load time."""
        self._of(version).load.observe(load_s)

    def load_changed(self, version: ModelVersion, queue_depth: int, in_flight: int, replicas_ready: int) -> None:
        """Set the queue, in-flight and replica gauges."""
        s = self._of(version)
        s.queue.set(queue_depth)
        s.in_flight.set(in_flight)
        s.replicas.set(replicas_ready)

    def batch_finished(self, version: ModelVersion, size: int, duration_s: float) -> None:
        """Observe one batch's size."""
        self._of(version).batch_size.observe(size)

    def batch_cost_changed(self, version: ModelVersion, per_item_s: float, fixed_s: float) -> None:
        """Set the fitted cost gauges."""
        s = self._of(version)
        s.per_item.set(per_item_s)
        s.fixed.set(fixed_s)

    def state_flushed(self, backend: str, duration_s: float, pending: int, ok: bool) -> None:
        """Observe a state-store flush (or failed write) and set the pending gauge."""
        self._state_pending.labels(backend).set(pending)
        if ok:
            self._state_flush.labels(backend).observe(duration_s)
        else:
            self._state_errors.labels(backend).inc()

    # --- HTTP endpoint ---------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve `/metrics` over HTTP on `host:port` (0: any free port); returns the port.

        Raises:
            RuntimeError: already serving.
            OSError: the port is taken.
        """
        if self._server is not None:
            msg = "the exporter is already serving"
            raise RuntimeError(msg)
        self._server, self._thread = self._prom.start_http_server(port, addr=host, registry=self.registry)
        return int(self._server.server_address[1])

    def text(self) -> str:
        """The current metrics in the Prometheus text format."""
        return bytes(self._prom.generate_latest(self.registry)).decode()

    def close(self) -> None:
        """Stop the HTTP endpoint and join its thread."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5)
