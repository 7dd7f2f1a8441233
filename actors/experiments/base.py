"""What every experiment actor shares: its messages, the observing reply, forwarding, stopping."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from actorserve.actors.base import ServingActor, UnexpectedMessageError, describe_exception, handles
from actorserve.actors.failures import failed_response
from actorserve.actors.messages import Route, safe_tell
from actorserve.actors.reply import Reply
from actorserve.actors.tracking import ThreadTracker
from actorserve.domain.entities import ModelRequest, ModelResponse
from actorserve.domain.enums import ErrorCode
from actorserve.domain.ports import Clock

if TYPE_CHECKING:
    import pykka

__all__ = [
    "Analyze",
    "ExperimentActor",
    "ExperimentDeps",
    "Observed",
    "ObservedReply",
    "RecordCovariate",
    "RecordOutcome",
    "ServeExperiment",
    "Settle",
    "StopExperiment",
    "copy_request",
    "own_copy",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


def own_copy(value: T) -> T:
    """A deep copy of `value`, so one fan-out's backend cannot edit what another sees.

    Falls back to a shallow copy, then to `value` itself, for objects that
    cannot be deep-copied (locks, sockets, handles a caller passed in).
    """
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - any object may refuse; sharing it is the old behaviour
        log.debug("input of type %s cannot be deep-copied; copying it shallowly", type(value).__name__)
    try:
        return copy.copy(value)
    except Exception:  # noqa: BLE001 - as above
        return value


def copy_request(request: ModelRequest, request_id: str) -> ModelRequest:
    """`request` under a new id, with its own deep copies of `input_data` and `parameters`."""
    return replace(
        request,
        request_id=request_id,
        input_data=own_copy(request.input_data),
        parameters=own_copy(request.parameters),
    )


@dataclass(frozen=True, slots=True)
class ServeExperiment:
    """Caller → experiment: serve `request` under the experiment."""

    request: ModelRequest
    reply: Reply[ModelResponse]
    started_at: float
    timeout_ms: float | None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Observed:
    """Observing reply → experiment: a request it forwarded was answered."""

    tag: object
    response: ModelResponse


@dataclass(frozen=True, slots=True)
class Analyze:
    """Anyone → experiment: reply with the current report."""

    reply: Reply[dict[str, object]]


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """Host → A/B test: a business outcome for an earlier request; replies False if unknown."""

    request_id: str
    metric: str
    value: float
    reply: Reply[bool]


@dataclass(frozen=True, slots=True)
class RecordCovariate:
    """Host → A/B test: the pre-period covariate of `key` (for CUPED); replies False if the test has ended."""

    key: str
    value: float
    reply: Reply[bool]


@dataclass(frozen=True, slots=True)
class Settle:
    """Host → experiment: reply True once nothing it forwarded is still unanswered."""

    reply: Reply[bool]


@dataclass(frozen=True, slots=True)
class StopExperiment:
    """Host → experiment: answer whatever is held, reply with the final report, stop."""

    reply: Reply[dict[str, object]]


class ObservedReply(Reply[ModelResponse]):
    """A reply that tells the experiment the answer, then completes the caller's reply (if any).

    The tell comes first, so a caller that asks for the analysis right after
    its answer sees its own request counted. `done` includes the caller's
    reply, so a request the caller already gave up on is never started.
    """

    __slots__ = ("_inner", "_observer", "_tag")

    def __init__(self, observer: pykka.ActorRef[Any], tag: object, inner: Reply[ModelResponse] | None) -> None:
        super().__init__()
        self._observer = observer
        self._tag = tag
        self._inner = inner

    @property
    def done(self) -> bool:
        """True once answered here or by the caller."""
        return super().done or (self._inner is not None and self._inner.done)

    def value(self) -> ModelResponse:
        """The answer (the caller's own, if it answered first)."""
        if not super().done and self._inner is not None and self._inner.done:
            return self._inner.value()
        return super().value()

    def _notify(self, value: ModelResponse) -> None:
        safe_tell(self._observer, Observed(self._tag, value))
        if self._inner is not None:
            self._inner.set(value)


@dataclass(frozen=True, slots=True)
class ExperimentDeps:
    """What every experiment actor of a runtime shares."""

    router: pykka.ActorRef[Any]
    registry: pykka.ActorRef[Any]
    clock: Clock
    tracker: ThreadTracker


class ExperimentActor(ServingActor):
    """Base of the experiment actors: each owns its config, assignment state and statistics.

    It forwards work through the router with the version pinned (the router
    is the known sender that learns of DRAINING first) and learns outcomes
    from `Observed` messages. All hooks run on the experiment's own thread.
    """

    kind = "experiment"

    def __init__(self, *, experiment_id: str, deps: ExperimentDeps, models: dict[str, str]) -> None:
        super().__init__()
        self.experiment_id = experiment_id
        self._deps = deps
        self._models = models  # version id -> model name
        self._stopped = False
        self._started = deps.clock.monotonic()
        self._observing = 0
        self._settle_waiters: list[Reply[bool]] = []

    def on_start(self) -> None:
        """Register the thread for leak checks (experiment thread)."""
        self._deps.tracker.add_current()

    def on_receive(self, message: Any) -> None:
        """Dispatch by message type (experiment thread); a handler's exception is logged, never fatal."""
        try:
            super().on_receive(message)
        except UnexpectedMessageError:
            raise
        except Exception:
            # An exception out of on_receive stops a Pykka actor, and with it the
            # experiment: no request's content (or an output it produced) may do that.
            log.exception("%s %s: handling %s failed", self.kind, self.experiment_id, type(message).__name__)

    # --- to override ---------------------------------------------------------

    def serve(self, m: ServeExperiment) -> None:
        """Route one request under the experiment."""
        raise NotImplementedError

    def observe(self, tag: object, response: ModelResponse) -> None:
        """Learn the outcome of a forwarded request."""
        raise NotImplementedError

    def report(self) -> dict[str, object]:
        """The experiment's figures."""
        raise NotImplementedError

    def release(self) -> None:
        """Answer every request the experiment itself holds (on stop)."""

    # --- shared --------------------------------------------------------------

    @handles(ServeExperiment)
    def _on_serve(self, m: ServeExperiment) -> None:
        if self._stopped:
            self.fail(m.request, m.reply, m.started_at, ErrorCode.UNAVAILABLE, "Experiment stopped")
            return
        try:
            self.serve(m)
        except Exception as exc:
            log.exception("%s %s: serving request %s failed", self.kind, self.experiment_id, m.request.request_id)
            error = f"Experiment failed: {describe_exception(exc)}"
            self.fail(m.request, m.reply, m.started_at, ErrorCode.MODEL_ERROR, error)

    @handles(Observed)
    def _on_observed(self, m: Observed) -> None:
        self._observing -= 1
        try:
            self.observe(m.tag, m.response)
        except Exception:
            log.exception("%s %s: observing an answer failed", self.kind, self.experiment_id)
        if self._observing == 0 and self._settle_waiters:
            for reply in self._settle_waiters:
                reply.set(True)
            self._settle_waiters.clear()

    @handles(Analyze)
    def _on_analyze(self, m: Analyze) -> None:
        m.reply.set(self._full_report())

    @handles(Settle)
    def _on_settle(self, m: Settle) -> None:
        if self._observing == 0:
            m.reply.set(True)
        else:
            self._settle_waiters.append(m.reply)

    @handles(RecordOutcome)
    def _on_record_outcome(self, m: RecordOutcome) -> None:
        m.reply.set(False)

    @handles(RecordCovariate)
    def _on_record_covariate(self, m: RecordCovariate) -> None:
        m.reply.set(False)

    @handles(StopExperiment)
    def _on_stop(self, m: StopExperiment) -> None:
        self._stopped = True
        final: dict[str, object] = {"experiment_id": self.experiment_id, "kind": self.kind, "stopped": True}
        try:
            self.release()
            final = self._full_report()
        except Exception:
            log.exception("%s %s: final report failed", self.kind, self.experiment_id)
        finally:
            m.reply.set(final)
            self.stop()

    def _full_report(self) -> dict[str, object]:
        return {
            "experiment_id": self.experiment_id,
            "kind": self.kind,
            "stopped": self._stopped,
            "elapsed_s": self._deps.clock.monotonic() - self._started,
            **self.report(),
        }

    def forward(
        self,
        request: ModelRequest,
        version_id: str,
        reply: Reply[ModelResponse],
        started_at: float,
        timeout_ms: float | None,
    ) -> None:
        """Send `request` to `version_id` through the router; UNAVAILABLE if the router is gone."""
        request.model_id = self._models[version_id]
        request.version_id = version_id
        if isinstance(reply, ObservedReply):
            self._observing += 1  # its answer comes back as one Observed message
        if not safe_tell(self._deps.router, Route(request, reply, started_at, timeout_ms, version_id)):
            self.fail(request, reply, started_at, ErrorCode.UNAVAILABLE, "Runtime is stopped")

    def fail(
        self, request: ModelRequest, reply: Reply[ModelResponse], started_at: float, code: ErrorCode, error: str
    ) -> None:
        """Answer `reply` with a failure in the experiment's name."""
        reply.set(
            failed_response(
                self._deps.clock,
                request_id=request.request_id,
                model_id=request.model_id,
                version_id=self.experiment_id,
                started_at=started_at,
                code=code,
                error=error,
            )
        )
