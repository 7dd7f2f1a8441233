"""WorkerActor: one loaded model instance (a replica) running batches on its own thread."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from actorserve.actors.base import ServingActor, describe_exception, handles
from actorserve.actors.keys import ReplicaKey
from actorserve.actors.messages import (
    CheckHealth,
    Done,
    HealthChecked,
    Loaded,
    LoadFailed,
    RunBatch,
    Work,
    WorkerCrashed,
    safe_tell,
)
from actorserve.actors.tracking import ThreadTracker
from actorserve.domain.entities import ModelResponse, ModelVersion
from actorserve.domain.enums import ErrorCode
from actorserve.domain.errors import InvocationError
from actorserve.domain.metrics import Outcome
from actorserve.domain.ports import Clock, CostCalculator, InvocationResult, ModelHandle, ModelInvoker
from actorserve.domain.records import missing_secrets_error
from actorserve.domain.results import checked_result

if TYPE_CHECKING:
    import pykka

__all__ = ["WorkerActor"]

log = logging.getLogger(__name__)


def _failure(exc: BaseException) -> InvocationResult:
    code = exc.code if isinstance(exc, InvocationError) else ErrorCode.MODEL_ERROR
    return checked_result(InvocationResult(error=describe_exception(exc), error_code=code))


class WorkerActor(ServingActor):
    """Holds one model instance and runs the invoker on it.

    Loads in `on_start` (its own thread) and reports `Loaded` or `LoadFailed`
    to its version; every invoker call is fenced with `BaseException` because
    Pykka stops every actor on a stray one. Completes each caller's reply
    itself, then tells the version `Done`.
    """

    def __init__(
        self,
        *,
        replica: ReplicaKey,
        version: ModelVersion,
        invoker: ModelInvoker,
        parent: pykka.ActorRef[Any],
        clock: Clock,
        cost: CostCalculator,
        tracker: ThreadTracker,
    ) -> None:
        super().__init__()
        self._replica = replica
        self._version = version
        self._invoker = invoker
        self._parent = parent
        self._clock = clock
        self._cost = cost
        self._tracker = tracker
        self._handle: ModelHandle | None = None
        self._loaded = False

    def on_start(self) -> None:
        """Load the model (worker thread)."""
        self._tracker.add_current()
        started = self._clock.monotonic()
        missing = missing_secrets_error(self._version)  # restored from the state store without its secret
        if missing is not None:
            safe_tell(self._parent, LoadFailed(self._replica, missing))
            self.stop()
            return
        try:
            self._handle = self._invoker.load(self._version)
        except BaseException as exc:  # noqa: BLE001 - fenced: see class docstring
            safe_tell(self._parent, LoadFailed(self._replica, describe_exception(exc)))
            self.stop()
            return
        self._loaded = True
        safe_tell(self._parent, Loaded(self._replica, self._clock.monotonic() - started))

    def on_receive(self, message: Any) -> None:
        """Run a batch (worker thread); other messages go through the handler table."""
        if type(message) is RunBatch:  # the hot path skips the table
            self._run(message.items)
        else:
            super().on_receive(message)

    @handles(CheckHealth)
    def _check_health(self, _: CheckHealth) -> None:
        error = None
        try:
            healthy = bool(self._invoker.health(self._handle))
        except BaseException as exc:  # noqa: BLE001 - fenced: a probe's failure is its answer
            healthy, error = False, describe_exception(exc)
        if not healthy and error is None:
            error = "the invoker's health probe answered False"
        safe_tell(self._parent, HealthChecked(self._replica, healthy, error))

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Report the crash to the version, which answers the batch and restarts us."""
        error = describe_exception(exception_value) if exception_value else "unknown failure"
        safe_tell(self._parent, WorkerCrashed(self._replica, error))
        self._unload()

    def on_stop(self) -> None:
        """Unload the model (worker thread)."""
        self._unload()

    def _unload(self) -> None:
        if not self._loaded:
            return
        self._loaded = False
        try:
            self._invoker.unload(self._handle)
        except BaseException as exc:  # noqa: BLE001 - fenced
            log.warning(
                "unload failed: %s",
                describe_exception(exc),
                extra={"model": self._version.model_name, "version": self._version.version_id},
            )

    def _invoke(self, items: Sequence[Work], timeout_s: float) -> list[InvocationResult]:
        try:
            if len(items) == 1:
                return [checked_result(self._invoker.invoke(self._handle, items[0].request, timeout_s))]
            results = list(self._invoker.invoke_batch(self._handle, [w.request for w in items], timeout_s))
        except BaseException as exc:  # noqa: BLE001 - fenced: see class docstring
            return [_failure(exc)] * len(items)
        if len(results) != len(items):
            error = InvocationResult(
                error=f"invoke_batch returned {len(results)} results for {len(items)} requests",
                error_code=ErrorCode.MODEL_ERROR,
            )
            return [error] * len(items)
        return [checked_result(r) for r in results]

    def _run(self, items: tuple[Work, ...]) -> None:
        live = [w for w in items if not w.reply.done] if len(items) > 1 or items[0].reply.done else list(items)
        outcomes: list[Outcome] = []
        claimed: list[Work] = []
        batch_s = 0.0
        try:
            if live:
                started = self._clock.monotonic()
                deadline = live[0].deadline if len(live) == 1 else min(w.deadline for w in live)
                timeout_s = max(deadline - started, 0.001)
                results = self._invoke(live, timeout_s)
                finished = self._clock.monotonic()
                batch_s = finished - started
                compute_share = batch_s / len(live)
                timestamp = self._clock.now()
                for work, result in zip(live, results, strict=True):
                    outcome = self._answer(work, result, finished, compute_share, timestamp)
                    if outcome is not None:
                        outcomes.append(outcome)
                        claimed.append(work)
            # Done first, then wake the callers: a caller's next look at the metrics includes its request.
            safe_tell(self._parent, Done(self._replica, tuple(outcomes), len(live), batch_s))
        finally:
            for work in claimed:
                work.reply.publish()

    def _answer(
        self,
        work: Work,
        result: InvocationResult,
        finished: float,
        compute_s: float,
        timestamp: Any,
    ) -> Outcome | None:
        version = self._version
        latency_ms = (finished - work.started_at) * 1000.0
        tokens = result.input_tokens + result.output_tokens
        cost = 0.0
        if result.ok:
            try:
                cost = self._cost.cost(version, result.input_tokens, result.output_tokens, compute_s)
            except Exception as exc:  # noqa: BLE001 - a bad price must not lose the answer
                log.warning("cost calculation failed: %s", describe_exception(exc))
        response = ModelResponse(
            request_id=work.request.request_id,
            model_id=version.model_name,
            version_id=version.version_id,
            output_data=result.output,
            latency_ms=latency_ms,
            tokens_used=tokens,
            cost_usd=cost,
            timestamp=timestamp,
            success=result.ok,
            error=result.error,
            error_code=None if result.ok else (result.error_code or ErrorCode.MODEL_ERROR),
        )
        if not work.reply.claim(response):
            return None
        return Outcome(
            request_id=response.request_id,
            success=response.success,
            latency_ms=latency_ms,
            error_code=response.error_code,
            tokens=tokens,
            cost_usd=cost,
        )
