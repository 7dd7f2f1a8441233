"""EnsembleActor: fan a request out to every member at once; answer as soon as the result is decided."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from actorserve.actors.base import describe_exception
from actorserve.actors.experiments.base import (
    ExperimentActor,
    ExperimentDeps,
    ObservedReply,
    ServeExperiment,
    copy_request,
)
from actorserve.actors.reply import Reply
from actorserve.domain.ensemble import Decision, EnsembleSpec, Vote, decide
from actorserve.domain.entities import ModelResponse
from actorserve.domain.enums import ErrorCode

__all__ = ["EnsembleActor"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    message: ServeExperiment
    votes: list[Vote | None]
    responses: list[ModelResponse | None] = field(default_factory=list)
    replies: list[Reply[ModelResponse]] = field(default_factory=list)


class EnsembleActor(ExperimentActor):
    """Runs every member in parallel and aggregates (experiment thread).

    Members get the caller's deadline, so each answers by then (TIMEOUT at
    worst); the ensemble answers as soon as `domain.ensemble.decide` says the
    result can no longer change, and fails with MODEL_ERROR when the quorum
    cannot be reached. Its latency is that of the slowest member it needed.
    Each member gets its own deep copy of the input, so a backend that edits
    its input cannot change what the others see; an aggregation that raises
    answers that request MODEL_ERROR.
    """

    kind = "ensemble"

    def __init__(self, *, ensemble_id: str, spec: EnsembleSpec, deps: ExperimentDeps, models: dict[str, str]) -> None:
        super().__init__(experiment_id=ensemble_id, deps=deps, models=models)
        self._spec = spec
        self._pending: dict[str, _Pending] = {}
        self._answered = 0
        self._succeeded = 0
        self._early = 0
        self._failures: dict[str, int] = {}

    def serve(self, m: ServeExperiment) -> None:
        """Send a copy of the request to every member."""
        rid = m.request.request_id
        n = len(self._spec.members)
        self._pending[rid] = _Pending(m, [None] * n, [None] * n)
        copies = [copy_request(m.request, f"{rid}-m{index}") for index in range(n)]
        for index, (member, copy) in enumerate(zip(self._spec.members, copies, strict=True)):
            reply: Reply[ModelResponse] = ObservedReply(self.actor_ref, (rid, index), None)
            self._pending[rid].replies.append(reply)
            self.forward(copy, member, reply, m.started_at, m.timeout_ms)

    def observe(self, tag: object, response: ModelResponse) -> None:
        """Count a member's vote; answer once decided."""
        if not isinstance(tag, tuple):
            return
        rid, index = tag
        pending = self._pending.get(rid)
        if pending is None:
            return  # already decided
        pending.votes[index] = Vote(response.success, response.output_data)
        pending.responses[index] = response
        try:
            decision = decide(self._spec, pending.votes)
        except Exception as exc:
            # an output the aggregation cannot handle fails this request, not the ensemble
            log.exception("ensemble %s: aggregating request %s failed", self.experiment_id, rid)
            error = f"Cannot aggregate member outputs: {describe_exception(exc)}"
            decision = Decision(error=error, error_code=ErrorCode.MODEL_ERROR)
        if decision is None:
            return
        del self._pending[rid]
        self._cancel_unneeded(pending)
        answered = [r for r in pending.responses if r is not None]
        self._early += len(answered) < len(self._spec.members)
        m = pending.message
        ok = decision.error is None
        self._answered += 1
        self._succeeded += ok
        if not ok:
            code = (decision.error_code or ErrorCode.MODEL_ERROR).value
            self._failures[code] = self._failures.get(code, 0) + 1
        errors = "; ".join(f"{r.version_id}: {r.error}" for r in answered if not r.success)
        m.reply.set(
            ModelResponse(
                request_id=m.request.request_id,
                model_id=f"ensemble-{self.experiment_id}",
                version_id=self.experiment_id,
                output_data=decision.output,
                latency_ms=(self._deps.clock.monotonic() - m.started_at) * 1000.0,
                tokens_used=sum(r.tokens_used for r in answered),
                cost_usd=sum(r.cost_usd for r in answered),
                timestamp=self._deps.clock.now(),
                success=ok,
                error=None if ok else (f"{decision.error} ({errors})" if errors else decision.error),
                error_code=decision.error_code,
            )
        )

    def _cancel_unneeded(self, pending: _Pending) -> None:
        """Members still working on a decided request: a queued one is never started."""
        m = pending.message
        for index, reply in enumerate(pending.replies):
            if pending.responses[index] is None:
                self.fail(m.request, reply, m.started_at, ErrorCode.CANCELLED, "Ensemble already decided")

    def release(self) -> None:
        """Answer every undecided request UNAVAILABLE."""
        for pending in self._pending.values():
            m = pending.message
            self.fail(m.request, m.reply, m.started_at, ErrorCode.UNAVAILABLE, "Ensemble stopped")
            self._cancel_unneeded(pending)
        self._pending.clear()

    def report(self) -> dict[str, object]:
        """Counts and the configuration."""
        return {
            "ensemble_id": self.experiment_id,
            "members": list(self._spec.members),
            "aggregation_method": self._spec.method,
            "min_agreements": self._spec.min_agreements,
            "vote_on": self._spec.vote_on,
            "requests": self._answered,
            "successes": self._succeeded,
            "failures_by_code": dict(self._failures),
            "decided_before_all_members": self._early,
            "in_flight": len(self._pending),
        }
