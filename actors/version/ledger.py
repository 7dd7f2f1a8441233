"""VersionLedger: a version's books — the answers it gives itself, its metrics, and what it reports.

Owned by one `VersionActor` and used only on that actor's thread. It answers
failures (rejections, timeouts, drains) exactly once each and counts every
answer, whoever gave it; it feeds the metrics sinks and sends the router the
figures its routing policies read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from actorserve.actors.failures import failed_response
from actorserve.actors.keys import VersionKey
from actorserve.actors.messages import VersionStats, Work, safe_tell
from actorserve.domain.entities import ModelMetrics, ModelResponse, ModelVersion
from actorserve.domain.enums import ErrorCode, ModelStatus
from actorserve.domain.metrics import Ewma, MetricsRecorder, Outcome
from actorserve.domain.ports import BatchMetricsSink, Clock, MetricsSink

if TYPE_CHECKING:
    import pykka

    from actorserve.actors.version.effects import Answer
    from actorserve.domain.batching import BatchCost

__all__ = ["VersionLedger"]

log = logging.getLogger(__name__)

_STATS_INTERVAL_S = 0.02
_STATS_EVERY = 64
"""Stats go to the router after this many answers or this many seconds, whichever comes first."""

_REJECTION_LOG_INTERVAL_S = 1.0
"""Rejected requests are logged at most once per interval, with a count."""


class VersionLedger:
    """Answers, metrics and reports of one version generation (its actor's thread only)."""

    def __init__(
        self,
        version: ModelVersion,
        key: VersionKey,
        *,
        clock: Clock,
        sink: MetricsSink,
        router: pykka.ActorRef[Any],
    ) -> None:
        self._version = version
        self._key = key
        self._clock = clock
        self._sink = sink
        self._router = router
        self.metrics = MetricsRecorder()
        self._latency = Ewma(alpha=0.2)
        self._last_stats = 0.0
        self._since_stats = 0
        self._rejected = 0
        self._rejections_logged_at = -math.inf
        self._last_load = (0, 0, 0)
        self._last_cost = (-1.0, -1.0)
        self._batch_sink = sink if isinstance(sink, BatchMetricsSink) else None
        self._log_extra = {"model": version.model_name, "version": version.version_id}

    # --- answers the version gives itself ------------------------------------------

    def failed_response(self, request_id: str, started_at: float, code: ErrorCode, error: str) -> ModelResponse:
        """A failed response from this version."""
        v = self._version
        return failed_response(
            self._clock,
            request_id=request_id,
            model_id=v.model_name,
            version_id=v.version_id,
            started_at=started_at,
            code=code,
            error=error,
        )

    def answer(self, answer: Answer) -> None:
        """Give each request of `answer` its failure unless already answered, and count it once.

        A request answered elsewhere first (its caller's deadline, a
        cancellation) is counted here only when `answer.count_answered` says
        nobody else will. Refusals at admission are logged at most once per
        interval, with a count.
        """
        code, error, count_answered = answer.code, answer.error, answer.count_answered
        for work in answer.works:
            response = self.failed_response(work.request.request_id, work.started_at, code, error)
            if work.reply.set(response):
                self.record((Outcome(response.request_id, False, response.latency_ms, code),))
            elif count_answered:
                self._count(work.reply.value())
        if answer.rejected:
            self._log_rejections(len(answer.works), answer.works[-1], code, error)

    def count_answered(self, works: Iterable[Work]) -> None:
        """The caller answered these (its own deadline, or cancellation): count those answers."""
        for work in works:
            self._count(work.reply.value())

    def _count(self, response: ModelResponse) -> None:
        self.record((Outcome(response.request_id, response.success, response.latency_ms, response.error_code),))

    def _log_rejections(self, count: int, latest: Work, code: ErrorCode, error: str) -> None:
        self._rejected += count
        now = self._clock.monotonic()
        if now - self._rejections_logged_at >= _REJECTION_LOG_INTERVAL_S:  # one line per interval under a storm
            log.warning(
                "rejected %d request(s) since the last report; latest: %s",
                self._rejected,
                error,
                extra={**self._log_extra, "request_id": latest.request.request_id, "error_code": code.value},
            )
            self._rejected = 0
            self._rejections_logged_at = now

    # --- metrics and reports -----------------------------------------------------------

    def record(self, outcomes: tuple[Outcome, ...]) -> None:
        """Count answers and pass them to the sinks."""
        self.metrics.record_all(outcomes)
        self._since_stats += len(outcomes)
        if not self._sink.active:
            return
        try:
            self._sink.requests_completed(self._version, outcomes)
        except Exception:
            log.exception("metrics sink failed on completed requests")

    def completed(self, outcomes: tuple[Outcome, ...]) -> None:
        """Count a worker's answers and feed their mean latency to the routing EWMA."""
        self.record(outcomes)
        total = 0.0
        for outcome in outcomes:
            total += outcome.latency_ms
        self._latency.update(total / len(outcomes))

    def stats_due(self, now: float) -> bool:
        """True when the router should hear this version's figures again."""
        return self._since_stats >= _STATS_EVERY or now - self._last_stats >= _STATS_INTERVAL_S

    @property
    def stats_behind(self) -> bool:
        """True when the router has not heard of some answers yet."""
        return self._since_stats > 0

    @property
    def stats_due_at(self) -> float:
        """The monotonic time at which figures the router has not heard become due by age."""
        return self._last_stats + _STATS_INTERVAL_S

    def send_stats(self, load: int) -> None:
        """Tell the router this version's latency, load, cost and answer counts."""
        self._last_stats = self._clock.monotonic()
        self._since_stats = 0
        m = self.metrics
        answered = m.succeeded + m.failed
        cost = m.cost_usd / m.succeeded if m.succeeded else None
        safe_tell(
            self._router,
            VersionStats(
                self._key,
                self._latency.value if answered else None,
                load,
                cost,
                m.succeeded,
                m.failed,
            ),
        )

    def load_changed(self, queue_depth: int, in_flight: int, replicas_ready: int) -> None:
        """Tell the sinks about a changed queue, in-flight count or replica count (only when changed)."""
        state = (queue_depth, in_flight, replicas_ready)
        if state == self._last_load:
            return
        self._last_load = state
        try:
            self._sink.load_changed(self._version, *state)
        except Exception:
            log.exception("metrics sink failed on load change")

    def batch_finished(self, size: int, duration_s: float, cost: BatchCost | None) -> None:
        """Tell the sinks a batch of `size` ran in `duration_s`, and the fitted cost when it moved."""
        sink = self._batch_sink
        if sink is None or not self._sink.active:
            return
        try:
            sink.batch_finished(self._version, size, duration_s)
            if cost is not None and (cost.per_item_s, cost.fixed_s) != self._last_cost:
                self._last_cost = (cost.per_item_s, cost.fixed_s)
                sink.batch_cost_changed(self._version, cost.per_item_s, cost.fixed_s)
        except Exception:
            log.exception("metrics sink failed on a finished batch")

    def replica_loaded(self, load_s: float) -> None:
        """Tell the sinks one replica loaded in `load_s` seconds."""
        try:
            self._sink.replica_loaded(self._version, load_s)
        except Exception:
            log.exception("metrics sink failed on replica loaded")

    def snapshot(self, *, queue_depth: int, in_flight: int, replicas_ready: int, status: ModelStatus) -> ModelMetrics:
        """A frozen copy of the metrics."""
        return self.metrics.snapshot(
            self._version.version_id,
            timestamp=self._clock.now(),
            queue_depth=queue_depth,
            in_flight=in_flight,
            replicas_ready=replicas_ready,
            status=status,
        )
