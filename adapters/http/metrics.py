"""`/metrics`: the runtime's Prometheus metrics plus the front's own, in one registry.

| metric | type | labels |
|---|---|---|
| `actorserve_http_requests_total` | counter | route (the route's template), status |
| `actorserve_http_request_duration_seconds` | histogram | route |

Without `prometheus_client` (extra `prometheus`) the front counts nothing and
`/metrics` answers 501 naming the extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import PlainTextResponse, Response

from actorserve.adapters.prometheus_exporter import LATENCY_BUCKETS_S, PrometheusExporter

if TYPE_CHECKING:
    from starlette.requests import Request

    from actorserve.actors.runtime import ServingRuntime

__all__ = ["HttpMetrics"]

_MISSING = "prometheus_client is not installed; pip install 'actorserve[prometheus]'\n"


class HttpMetrics:
    """The front's counters, beside an exporter of the runtime's own metrics.

    Args:
        exporter: where the metrics live. None: a new `PrometheusExporter`,
            attached to the runtime as a metrics sink and seeded with the
            versions already registered.
    """

    def __init__(self, runtime: ServingRuntime, exporter: PrometheusExporter | None = None) -> None:
        try:
            import prometheus_client as prom
        except ImportError:
            self._prom: Any = None
            return
        if exporter is None:
            exporter = PrometheusExporter()
            runtime.add_metrics_sink(exporter)
            for v in runtime.list_versions():  # what registered before the app was made
                exporter.status_changed(v, v.status, 0.0)
        self._prom = prom
        self.exporter = exporter
        reg = exporter.registry
        self._requests = prom.Counter(
            "http_requests", "HTTP requests answered", ("route", "status"), namespace="actorserve", registry=reg
        )
        self._duration = prom.Histogram(
            "http_request_duration_seconds",
            "Time from an HTTP request's arrival to its answer",
            ("route",),
            namespace="actorserve",
            registry=reg,
            buckets=LATENCY_BUCKETS_S,
        )

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request (event loop thread)."""
        if self._prom is not None:
            self._requests.labels(route, str(status)).inc()
            self._duration.labels(route).observe(seconds)

    async def endpoint(self, request: Request) -> Response:
        """`GET /metrics` in the Prometheus text format."""
        if self._prom is None:
            return PlainTextResponse(_MISSING, status_code=501)
        return Response(self.exporter.text(), media_type=self._prom.CONTENT_TYPE_LATEST)
