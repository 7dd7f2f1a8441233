"""Metrics sinks the runtime owns: the null one, and the fan-out versions actually call."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from actorserve.domain.entities import ModelVersion
from actorserve.domain.enums import ModelStatus
from actorserve.domain.metrics import Outcome
from actorserve.domain.ports import MetricsSink

__all__ = ["NullSink", "SinkFanout"]

log = logging.getLogger(__name__)


class NullSink:
    """A `MetricsSink` that ignores everything."""

    active = False

    def status_changed(self, version: ModelVersion, status: ModelStatus, at: float) -> None:
        """Ignore."""

    def requests_completed(self, version: ModelVersion, outcomes: Sequence[Outcome]) -> None:
        """Ignore."""

    def replica_loaded(self, version: ModelVersion, load_s: float) -> None:
        """Ignore."""

    def load_changed(self, version: ModelVersion, queue_depth: int, in_flight: int, replicas_ready: int) -> None:
        """Ignore."""

    def batch_finished(self, version: ModelVersion, size: int, duration_s: float) -> None:
        """Ignore."""

    def batch_cost_changed(self, version: ModelVersion, per_item_s: float, fixed_s: float) -> None:
        """Ignore."""

    def state_flushed(self, backend: str, duration_s: float, pending: int, ok: bool) -> None:
        """Ignore."""


class SinkFanout:
    """Passes each event to every sink added; sinks can be added while versions run.

    Versions call it from their own threads. The sink tuple is replaced, never
    mutated, so a reader sees either the old set or the new one. One failing
    sink is logged and does not starve the others. Sinks written before
    `active`, `replica_loaded`, `load_changed`, `batch_finished` and
    `batch_cost_changed` existed still work: a missing `active` means True,
    a missing method is skipped.
    """

    def __init__(self, sinks: Sequence[MetricsSink] = ()) -> None:
        self._lock = threading.Lock()
        self._sinks: tuple[MetricsSink, ...] = ()
        self.active = False
        for sink in sinks:
            self.add(sink)

    def add(self, sink: MetricsSink) -> None:
        """Send later events to `sink` as well."""
        with self._lock:
            self._sinks = (*self._sinks, sink)
            self.active = any(getattr(s, "active", True) for s in self._sinks)

    def _each(self, event: str, *args: object) -> None:
        for sink in self._sinks:
            method = getattr(sink, event, None)
            if method is None or not getattr(sink, "active", True):
                continue
            try:
                method(*args)
            except Exception:
                log.exception("metrics sink %s failed on %s", type(sink).__name__, event)

    def status_changed(self, version: ModelVersion, status: ModelStatus, at: float) -> None:
        """Fan out."""
        self._each("status_changed", version, status, at)

    def requests_completed(self, version: ModelVersion, outcomes: Sequence[Outcome]) -> None:
        """Fan out."""
        self._each("requests_completed", version, outcomes)

    def replica_loaded(self, version: ModelVersion, load_s: float) -> None:
        """Fan out."""
        self._each("replica_loaded", version, load_s)

    def load_changed(self, version: ModelVersion, queue_depth: int, in_flight: int, replicas_ready: int) -> None:
        """Fan out."""
        self._each("load_changed", version, queue_depth, in_flight, replicas_ready)

    def batch_finished(self, version: ModelVersion, size: int, duration_s: float) -> None:
        """Fan out."""
        self._each("batch_finished", version, size, duration_s)

    def batch_cost_changed(self, version: ModelVersion, per_item_s: float, fixed_s: float) -> None:
        """Fan out."""
        self._each("batch_cost_changed", version, per_item_s, fixed_s)

    def state_flushed(self, backend: str, duration_s: float, pending: int, ok: bool) -> None:
        """Fan out (the state actor: one flush or write of the state store, and what is still buffered)."""
        self._each("state_flushed", backend, duration_s, pending, ok)
