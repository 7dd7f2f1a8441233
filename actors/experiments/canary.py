"""CanaryActor: ramp a candidate through traffic steps, gate each step, promote or roll back."""

from __future__ import annotations

import hashlib
import logging
import random
import uuid
from typing import TYPE_CHECKING

from actorserve.actors.base import handles
from actorserve.actors.experiments.base import ExperimentActor, ExperimentDeps, ObservedReply, ServeExperiment
from actorserve.actors.messages import AskStore, Persist, StoreAnswer, TimerFired, Unload, Write, safe_tell
from actorserve.actors.reply import Reply
from actorserve.actors.timers import Timers
from actorserve.domain.canary import CanarySpec, Window, evaluate
from actorserve.domain.entities import ModelResponse

if TYPE_CHECKING:
    from actorserve.actors.experiments.shared import StatsSync
    from actorserve.domain.ports import StateStore
    from actorserve.domain.state import Document

__all__ = ["CANARY_STATE", "CanaryActor"]

log = logging.getLogger(__name__)

CANARY_STATE = "canary_state"
"""Document kind of a canary's step, state and decisions (key: `<canary id>/<epoch>`)."""

_TICK = "canary-tick"
_STATES = ("running", "promoted", "rolled_back")


class CanaryActor(ExperimentActor):
    """Runs a canary rollout by itself (experiment thread).

    Each step sends `steps[i]` % of traffic to the candidate. When the
    candidate has answered `min_requests` in the step, its error rate and
    p95 in that step are gated against the baseline's over the whole
    rollout: pass moves on (after 100 %: promote, the baseline drains), fail
    rolls back (the candidate drains). Every decision is kept with its numbers.

    With a state store (`sync`), the step, state and decisions are written
    at each decision and read back at start, so a restarted runtime resumes
    at the step it had reached. Several processes running the same canary
    take turns under one lease: its holder judges the steps, and the others
    follow the stored step every interval.
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
        sync: StatsSync | None = None,
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
        self._sync = sync
        self._owner = uuid.uuid4().hex
        self._leader = sync is None  # alone, it always decides; sharing a store, only under the lease
        self._timers: Timers | None = None

    # --- shared state (with a state store) --------------------------------------

    def on_start(self) -> None:
        """Register the thread; with a store, resume from the stored step and take turns (experiment thread)."""
        super().on_start()
        sync = self._sync
        if sync is None:
            return
        try:
            self._leader = sync.store.acquire_lease(self._lease, self._owner, self._ttl_ms)
            stored = sync.store.get_document(CANARY_STATE, sync.prefix)
        except Exception as exc:  # noqa: BLE001 - the first tick asks again
            log.warning("canary %s: state not read at start: %s", self.experiment_id, exc)
            stored = None
        if stored is not None:
            self._adopt(stored)
        self._timers = Timers(sync.scheduler, self.actor_ref)
        self._arm()

    @property
    def _lease(self) -> str:
        # A lease name is a plain name (letters, digits, `_.-`); any experiment id hashes to one, alike everywhere.
        return (
            "canary." + hashlib.blake2b(self.experiment_id.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
        )

    @property
    def _ttl_ms(self) -> int:
        assert self._sync is not None
        return max(int(self._sync.interval_s * 3000), 100)

    def _arm(self) -> None:
        if self._timers is not None and self._sync is not None:
            self._timers.apply([(_TICK, self._deps.clock.monotonic() + self._sync.interval_s)])

    @handles(TimerFired)
    def _on_tick(self, m: TimerFired) -> None:
        sync = self._sync
        if m.name != _TICK or sync is None:
            return
        lease, owner, ttl, key = self._lease, self._owner, self._ttl_ms, sync.prefix

        def query(store: StateStore) -> tuple[bool, Document | None]:
            return store.acquire_lease(lease, owner, ttl), store.get_document(CANARY_STATE, key)

        safe_tell(sync.state, AskStore(query, _TICK, self.actor_ref))

    @handles(StoreAnswer)
    def _on_answer(self, m: StoreAnswer) -> None:
        if m.tag != _TICK:
            return
        if isinstance(m.value, tuple):
            held, stored = m.value
            self._leader = bool(held)
            if not self._leader and isinstance(stored, dict):
                self._adopt(stored)
        self._arm()

    def _adopt(self, stored: Document) -> None:
        """Follow the stored step (and a decided end) that the lease holder wrote."""
        step, state, decisions = stored.get("step"), stored.get("state"), stored.get("decisions")
        if not isinstance(step, int) or not 0 <= step < len(self._spec.steps) or state not in _STATES:
            return
        if step != self._step:
            self._candidate = Window()
        self._step = step
        if isinstance(decisions, list):
            self._decisions = [d for d in decisions if isinstance(d, dict)]
        if state != self._state and self._state == "running":
            self._state = str(state)
            self._unload(self._spec.baseline if state == "promoted" else self._spec.candidate)

    def _keep(self) -> None:
        """Write the step, state and decisions (behind: the rollout never waits on the store)."""
        if self._sync is None:
            return
        doc: Document = {"step": self._step, "state": self._state, "decisions": list(self._decisions)}
        write = Write(CANARY_STATE, self._sync.prefix, doc)
        safe_tell(self._sync.state, Persist((write,), Reply()))

    def release(self) -> None:
        """Stop taking turns (on stop)."""
        super().release()
        if self._timers is not None:
            self._timers.cancel_all()
        if self._sync is not None and self._leader:
            lease, owner = self._lease, self._owner
            safe_tell(self._sync.state, AskStore(lambda store: store.release_lease(lease, owner), "release", None))

    def on_stop(self) -> None:
        """Cancel the tick (experiment thread)."""
        if self._timers is not None:
            self._timers.cancel_all()

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
        if not self._leader:
            return  # another process holds the lease and judges the steps
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
        self._keep()

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
