"""`runtime.experiments`: start, serve, analyze and stop experiments from host code."""

from __future__ import annotations

import logging
import math

import pykka

from actorserve.actors.experiments.base import (
    Analyze,
    RecordCovariate,
    RecordOutcome,
    Settle,
)
from actorserve.actors.experiments.starts import ExperimentStarts
from actorserve.actors.reply import SyncReply
from actorserve.actors.request_path import MAX_KEY_CHARS, Call
from actorserve.domain.entities import ModelResponse
from actorserve.domain.errors import ConfigError

__all__ = ["MAX_METRIC_CHARS", "MAX_VALUE", "Experiments"]

MAX_METRIC_CHARS = 64
"""The longest custom metric name taken (it names stored statistics)."""

MAX_VALUE = 1e150
"""The largest outcome or covariate magnitude taken: its square (kept for the variance) must stay finite."""


def _storable(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= MAX_VALUE
    )


log = logging.getLogger(__name__)


class Experiments(ExperimentStarts):
    """Experiments of one runtime. Thread-safe; every call returns within the runtime's call timeout.

    Each experiment is an actor that owns its state; this object only knows
    their ids. Starting validates everything first (registered versions,
    percentages, weights, quorum), so a bad call raises `ValueError` naming
    the field and starts nothing. Once `stop_all` has begun (the runtime's
    `stop()` calls it first), every start raises `RuntimeError`, so no
    experiment outlives the runtime. With a state store, every start is
    kept: a start with the id of one already running (here, stored, or in
    another process on the same store) and the same arguments joins it, and
    the runtime's next start restores it (README "State").
    """

    # --- serving -------------------------------------------------------------

    def kind(self, experiment_id: str) -> str | None:
        """The experiment's kind (ab_test, shadow, ensemble, canary), or None if unknown."""
        with self._lock:
            if experiment_id in self._live:
                return self._live[experiment_id][0]
            final = self._final.get(experiment_id)
        return str(final["kind"]) if final else None

    def serve(
        self,
        experiment_id: str,
        input_data: dict[str, object],
        *,
        parameters: dict[str, object] | None = None,
        timeout_ms: float | None = None,
        key: str | None = None,
    ) -> ModelResponse:
        """Serve one request under the experiment; NOT_FOUND if unknown (never raises for model errors)."""
        return self._path.serve_at(
            self._ref(experiment_id), Call(experiment_id, input_data, None, parameters, timeout_ms, key)
        )

    async def aserve(
        self,
        experiment_id: str,
        input_data: dict[str, object],
        *,
        parameters: dict[str, object] | None = None,
        timeout_ms: float | None = None,
        key: str | None = None,
    ) -> ModelResponse:
        """`serve` for asyncio callers."""
        ref = self._ref(experiment_id)
        return await self._path.aserve_at(ref, Call(experiment_id, input_data, None, parameters, timeout_ms, key))

    def record_outcome(self, test_id: str, request_id: str, value: float, *, metric: str = "conversion") -> bool:
        """Report a business outcome (a conversion, a rating, revenue) for a request an A/B test served.

        Returns False when the test or the request is unknown, or the test has ended.

        Raises:
            ValueError: when `value` is not a finite number or `metric` is a built-in one.
        """
        if not _storable(value):
            raise ConfigError(
                f"value: must be a finite number of magnitude <= {MAX_VALUE:g} (got {value!r})", field="value"
            )
        if (
            metric in ("success_rate", "error_rate", "latency", "cost")
            or not isinstance(metric, str)
            or not metric
            or len(metric) > MAX_METRIC_CHARS
        ):
            raise ConfigError(f"metric: must be a custom metric name (got {metric!r})", field="metric")
        ref = self._ref(test_id)
        if ref is None or self.kind(test_id) != "ab_test":
            return False
        reply: SyncReply[bool] = SyncReply()
        return self._control.call(ref, RecordOutcome(request_id, metric, float(value), reply), reply, "record_outcome")

    def record_covariate(self, test_id: str, key: str, value: float) -> bool:
        """Give the pre-period covariate of sticky key `key` (its last month's conversions, say) for CUPED.

        Returns False when the test is unknown or has ended.

        Raises:
            ValueError: when `value` is not a finite number or `key` is not a non-empty string.
        """
        if not _storable(value):
            raise ConfigError(
                f"value: must be a finite number of magnitude <= {MAX_VALUE:g} (got {value!r})", field="value"
            )
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
            msg = f"key: must be a non-empty string of at most {MAX_KEY_CHARS} characters (got {key!r:.80})"
            raise ConfigError(msg, field="key")
        ref = self._ref(test_id)
        if ref is None or self.kind(test_id) != "ab_test":
            return False
        reply: SyncReply[bool] = SyncReply()
        return self._control.call(ref, RecordCovariate(key, float(value), reply), reply, "record_covariate")

    # --- reports and stopping --------------------------------------------------

    def report(self, experiment_id: str) -> dict[str, object] | None:
        """The experiment's current figures (final ones once stopped), or None if unknown."""
        ref = self._ref(experiment_id)
        if ref is None:
            with self._lock:
                return self._final.get(experiment_id) if isinstance(experiment_id, str) else None
        reply: SyncReply[dict[str, object]] = SyncReply()
        try:
            return self._control.call(ref, Analyze(reply), reply, "report")
        except RuntimeError:
            with self._lock:
                return self._final.get(experiment_id)

    def settle(self, experiment_id: str, timeout: float = 10.0) -> bool:
        """Wait until every request the experiment forwarded has been answered (shadow copies included).

        Returns False on timeout or for an unknown experiment.
        """
        ref = self._ref(experiment_id)
        if ref is None:
            return False
        reply: SyncReply[bool] = SyncReply()
        try:
            ref.tell(Settle(reply))
        except pykka.ActorDeadError:
            return False
        return reply.wait(timeout) and reply.value()

    def stop(self, experiment_id: str) -> dict[str, object] | None:
        """Stop the experiment (it answers every request it holds); returns its final report.

        With a state store, the experiment is forgotten there too (a later
        runtime does not restore it), and every process that shares it
        stops counting it at its next start.

        Raises:
            StateError: the store refused to forget it (it is stopped here, but a restart would restore it).
        """
        return self._stop(experiment_id, forget=True)

    def list(self) -> dict[str, str]:
        """Running experiments: id → kind."""
        with self._lock:
            return {eid: kind for eid, (kind, _) in self._live.items()}

    def stop_all(self) -> None:
        """Refuse every start from now on, then stop each running experiment.

        The runtime's `stop()` calls this first.
        """
        with self._lock:
            self._closed = True
            running = list(self._live)
        for experiment_id in running:
            self._stop(experiment_id, forget=False)  # stop() is not unload(): a restart restores them
