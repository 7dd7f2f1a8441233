"""CanaryActor: ramp a candidate through traffic steps, gate each step, promote or roll back."""

from __future__ import annotations

import logging
import random

from actorserve.actors.experiments.base import ExperimentActor, ExperimentDeps, ObservedReply, ServeExperiment
from actorserve.actors.messages import Unload, safe_tell
from actorserve.actors.reply import Reply
from actorserve.domain.canary import CanarySpec, Window, evaluate
from actorserve.domain.entities import ModelResponse

__all__ = ["CanaryActor"]

log = logging.getLogger(__name__)


class CanaryActor(ExperimentActor):
    """Runs a canary rollout by itself (experiment thread).

    Each step sends `steps[i]` % of traffic to the candidate. When the
    candidate has answered `min_requests` in the step, its error rate and
    p95 in that step are gated against the baseline's over the whole
    rollout: pass moves on (after 100 %: promote, the baseline drains), fail
    rolls back (the candidate drains). Every decision is kept with its numbers.
    """

    kind = "canary"

    def __init__(
        self,
        *,
        canary_id: str,
        spec: CanarySpec,
        deps: ExperimentDeps,
        models: dict[str, str],
        seed: int | None,
        auto_unload: bool,
    ) -> None:
        super().__init__(experiment_id=canary_id, deps=deps, models=models)
        self._spec = spec
        self._rng = random.Random(seed)
        self._auto_unload = auto_unload
        self._step = 0
        self._state = "running"
        self._candidate = Window()
        self._baseline = Window()
        self._decisions: list[dict[str, object]] = []

    def serve(self, m: ServeExperiment) -> None:
        """Send the request to the candidate with the step's probability."""
        spec = self._spec
        if self._state == "promoted":
            self.forward(m.request, spec.candidate, m.reply, m.started_at, m.timeout_ms)
            return
        if self._state == "rolled_back":
            self.forward(m.request, spec.baseline, m.reply, m.started_at, m.timeout_ms)
            return
        to_candidate = self._rng.random() * 100.0 < spec.steps[self._step]
        side = "candidate" if to_candidate else "baseline"
        version = spec.candidate if to_candidate else spec.baseline
        reply: Reply[ModelResponse] = ObservedReply(self.actor_ref, (self._step, side), m.reply)
        self.forward(m.request, version, reply, m.started_at, m.timeout_ms)

    def observe(self, tag: object, response: ModelResponse) -> None:
        """Count the answer; judge the step when it has enough."""
        if self._state != "running" or not isinstance(tag, tuple):
            return
        step, side = tag
        if side == "baseline":
            self._baseline.record(success=response.success, latency_ms=response.latency_ms)
            return
        if step != self._step:
            return  # answered after its step was judged
        self._candidate.record(success=response.success, latency_ms=response.latency_ms)
        gate = evaluate(self._spec, self._candidate, self._baseline)
        if gate is None:
            return
        last = self._step == len(self._spec.steps) - 1
        action = ("promote" if last else "advance") if gate.passed else "rollback"
        self._decisions.append(
            {
                "at": self._deps.clock.now().isoformat(),
                "step": self._step,
                "traffic_percentage": self._spec.steps[self._step],
                "action": action,
                "reason": gate.reason,
                "candidate_error_rate": gate.candidate_error_rate,
                "baseline_error_rate": gate.baseline_error_rate,
                "candidate_p95_ms": gate.candidate_p95_ms,
                "baseline_p95_ms": gate.baseline_p95_ms,
                "candidate_requests": gate.candidate_requests,
                "baseline_requests": gate.baseline_requests,
            }
        )
        log.info("canary %s: %s at %g%%: %s", self.experiment_id, action, self._spec.steps[self._step], gate.reason)
        if action == "advance":
            self._step += 1
            self._candidate = Window()
        elif action == "promote":
            self._state = "promoted"
            self._unload(self._spec.baseline)
        else:
            self._state = "rolled_back"
            self._unload(self._spec.candidate)

    def _unload(self, version_id: str) -> None:
        if self._auto_unload:
            safe_tell(self._deps.registry, Unload(version_id, Reply()))

    def report(self) -> dict[str, object]:
        """State, current step, and every decision with the numbers that drove it."""
        return {
            "canary_id": self.experiment_id,
            "baseline": self._spec.baseline,
            "candidate": self._spec.candidate,
            "state": self._state,
            "step": self._step,
            "traffic_percentage": self._spec.steps[self._step] if self._state == "running" else None,
            "candidate_step_requests": self._candidate.requests,
            "baseline_requests": self._baseline.requests,
            "decisions": list(self._decisions),
        }
