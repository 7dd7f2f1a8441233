"""Endpoints: what a runtime serves on ports (metrics exporters, the HTTP front), started on demand, closed at stop."""

from __future__ import annotations

import logging
from collections.abc import Callable

from actorserve.actors.base import describe_exception
from actorserve.actors.plugins import load_exporter, load_server
from actorserve.actors.sinks import SinkFanout
from actorserve.domain.entities import ModelMetrics, ModelVersion
from actorserve.domain.ports import Clock, MetricsExporter, NetworkServer

__all__ = ["Endpoints"]

log = logging.getLogger(__name__)


class Endpoints:
    """The runtime's exporters and network servers (host threads; the runtime serialises stop).

    Args:
        sinks: where exporters are attached to the version events.
        clock: the runtime's clock.
    """

    def __init__(self, sinks: SinkFanout, clock: Clock) -> None:
        self._sinks = sinks
        self._clock = clock
        self._exporters: list[MetricsExporter] = []
        self._servers: list[NetworkServer] = []

    def serve_metrics(
        self,
        exporter: str,
        host: str,
        port: int,
        versions: Callable[[], list[ModelVersion]],
        metrics: Callable[[str], ModelMetrics | None],
    ) -> int:
        """Start an exporter's endpoint, feed it from now on, seeded with the versions already registered."""
        made = load_exporter(exporter)
        bound = made.serve(host, port)  # first: a taken port leaves nothing attached
        self._exporters.append(made)  # closed at stop from here on
        self._sinks.add(made)
        now = self._clock.monotonic()
        for version in versions():
            made.status_changed(version, version.status, now)
            m = metrics(version.version_id)
            if m is not None:
                made.load_changed(version, m.queue_depth, m.in_flight, m.replicas_ready)
        return bound

    def serve_http(self, runtime: object, host: str, port: int, options: dict[str, object]) -> int:
        """Start the HTTP front for `runtime` from its own thread; returns the bound port."""
        server = load_server("http", runtime, **options)
        bound = server.serve(host, port)
        self._servers.append(server)  # closed at stop from here on
        return bound

    def stop_accepting(self, budget_s: Callable[[], float]) -> None:
        """Close the network servers (first at stop): no new requests; those accepted are answered."""
        for server in self._servers:
            try:
                server.close(max(budget_s(), 0.0))
            except Exception as exc:  # noqa: BLE001 - shutdown goes on
                log.warning("server close failed: %s", describe_exception(exc))

    def close_exporters(self) -> None:
        """Shut every exporter's endpoint down."""
        for made in self._exporters:
            try:
                made.close()
            except Exception as exc:  # noqa: BLE001 - shutdown goes on
                log.warning("exporter close failed: %s", describe_exception(exc))
