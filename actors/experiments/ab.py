"""ABTestActor: weighted (sticky) split across versions, per-arm statistics, the analysis."""

from __future__ import annotations

import random
from collections import OrderedDict

from actorserve.actors.base import handles
from actorserve.actors.experiments.base import (
    ExperimentActor,
    ExperimentDeps,
    ObservedReply,
    RecordOutcome,
    ServeExperiment,
)
from actorserve.domain.abtest import ABTestSpec, ArmStats, analyze, assign
from actorserve.domain.entities import ModelResponse

__all__ = ["ABTestActor"]

_REMEMBERED_REQUESTS = 100_000
"""How many request ids are kept for `record_outcome` (oldest forgotten first)."""


class ABTestActor(ExperimentActor):
    """Splits traffic across the arms and keeps each arm's statistics (experiment thread).

    A request with a key always lands on the same arm (hash of test id and
    key, so it survives restarts). After `duration_s` the test stops
    assigning (traffic goes to the control) and its results freeze.
    """

    kind = "ab_test"

    def __init__(self, *, spec: ABTestSpec, deps: ExperimentDeps, models: dict[str, str], seed: int | None) -> None:
        super().__init__(experiment_id=spec.test_id, deps=deps, models=models)
        self._spec = spec
        self._arms = [ArmStats() for _ in spec.arms]
        self._rng = random.Random(seed)
        self._requests: OrderedDict[str, int] = OrderedDict()

    def _ended(self) -> bool:
        d = self._spec.duration_s
        return self._stopped or (d is not None and self._deps.clock.monotonic() - self._started >= d)

    def serve(self, m: ServeExperiment) -> None:
        """Assign an arm, remember it for outcomes, forward with an observing reply."""
        if self._ended():
            self.forward(m.request, self._spec.arms[0], m.reply, m.started_at, m.timeout_ms)
            return
        arm = assign(self._spec, m.key, self._rng.random())
        self._arms[arm].assign(m.key)
        self._requests[m.request.request_id] = arm
        if len(self._requests) > _REMEMBERED_REQUESTS:
            self._requests.popitem(last=False)
        reply = ObservedReply(self.actor_ref, arm, m.reply)
        self.forward(m.request, self._spec.arms[arm], reply, m.started_at, m.timeout_ms)

    def observe(self, tag: object, response: ModelResponse) -> None:
        """Count the answer for its arm (unless the test has ended)."""
        if self._ended() or not isinstance(tag, int):
            return
        self._arms[tag].record(
            success=response.success,
            latency_ms=response.latency_ms,
            cost_usd=response.cost_usd,
            tokens=response.tokens_used,
            error_code=response.error_code,
        )

    @handles(RecordOutcome)
    def _record_outcome(self, m: RecordOutcome) -> None:
        arm = self._requests.get(m.request_id)
        if arm is None or self._ended():
            m.reply.set(False)
            return
        self._arms[arm].record_custom(m.metric, m.value)
        m.reply.set(True)

    def report(self) -> dict[str, object]:
        """The analysis of domain.abtest plus the split."""
        elapsed = self._deps.clock.monotonic() - self._started
        return analyze(self._spec, self._arms, elapsed_s=elapsed, ended=self._ended())
