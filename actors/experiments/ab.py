"""ABTestActor: weighted (sticky) split across versions, per-arm statistics, sequential looks, auto-conclusion."""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actorserve.actors.base import handles
from actorserve.actors.experiments.base import (
    ExperimentActor,
    ExperimentDeps,
    ObservedReply,
    RecordCovariate,
    RecordOutcome,
    ServeExperiment,
)
from actorserve.actors.experiments.shared import SharedArms, StatsSync
from actorserve.actors.messages import (
    AskStore,
    CountersRead,
    Persist,
    Remember,
    StoreAnswer,
    TimerFired,
    Write,
    safe_tell,
)
from actorserve.actors.reply import Reply
from actorserve.actors.timers import Timers
from actorserve.domain.abstats import SequentialState, Verdict, may_decide
from actorserve.domain.abtest import (
    ABTestSpec,
    ArmStats,
    analyze,
    arm_label,
    assign,
    sample_counts,
    sequential_look,
    sequential_verdict,
)
from actorserve.domain.entities import ModelResponse

if TYPE_CHECKING:
    import pykka

    from actorserve.domain.state import Document

__all__ = ["AB_STATE", "ABTestActor", "Promote"]

log = logging.getLogger(__name__)

AB_REQUEST = SharedArms.remember_kind
AB_COVARIATE = "ab_covariate"
"""Document kind of a key's pre-period covariate (key: `<test id>/<epoch>/<key>`), for CUPED."""

COVARIATE_KEEP_MS = 90 * 24 * 3600 * 1000
"""How long a recorded covariate is kept with a state store (90 days: longer than any test should run)."""

AB_STATE = "ab_state"
"""Document kind of an A/B test's decisions and conclusion (key: `<test id>/<epoch>`)."""

_MAX_RECALLS = 10_000
"""Outcomes waiting on the store at once (for requests served elsewhere or before a restart)."""

_SYNC = "stats-sync"
"""The timer slot of the shared statistics' sync."""

_REMEMBERED_REQUESTS = 100_000
"""How many request ids are kept for `record_outcome` (oldest forgotten first)."""

Promote = Callable[[str, str], tuple[str, "pykka.ActorRef[Any]"]]
"""Starts a canary of a winner (2nd argument) over the control (1st); returns its id and ref.

Called on the A/B test's thread: it must only spawn (never wait on an actor).
"""


class ABTestActor(ExperimentActor):
    """Splits traffic across the arms and keeps each arm's statistics (experiment thread).

    A request with a key always lands on the same arm (hash of test id and
    key, so it survives restarts). Every answer (and outcome) is a look of
    the always-valid sequential test on the success metric. The test ends,
    stops assigning (traffic goes to the control) and freezes its results
    after `duration_s`, or, with `conclude="stop"` or `"promote"`, as soon as
    the sequential test decides; with `"promote"` a canary of the winner over
    the control then takes the test's traffic. Every decision is kept with
    its numbers.
    """

    kind = "ab_test"

    def __init__(
        self,
        *,
        spec: ABTestSpec,
        deps: ExperimentDeps,
        models: dict[str, str],
        seed: int | None,
        promote: Promote | None = None,
        stats: StatsSync | None = None,
    ) -> None:
        super().__init__(experiment_id=spec.test_id, deps=deps, models=models)
        self._spec = spec
        self._arms = [ArmStats() for _ in spec.arms]
        self._rng = random.Random(seed)
        self._requests: OrderedDict[str, tuple[int, str | None]] = OrderedDict()
        self._sequential = SequentialState()
        self._covariates: dict[str, float] = dict(spec.covariates)
        self._decisions: list[dict[str, object]] = []
        self._concluded = False
        self._promote = promote
        self._after: str = spec.arms[0]  # where traffic goes once the test has ended
        self._canary: pykka.ActorRef[Any] | None = None
        self._stats = stats
        self._shared: SharedArms | None = None
        self._timers: Timers | None = None
        self._recalls = 0
        self._waiting_outcomes: dict[str, RecordOutcome] = {}

    # --- shared statistics (with a state store) ---------------------------------

    def on_start(self) -> None:
        """Register the thread; with a store, read the stored totals and sync every interval (experiment thread)."""
        super().on_start()
        if self._stats is not None:
            self._shared = SharedArms(self._stats, len(self._spec.arms), self.actor_ref)
            self._timers = Timers(self._stats.scheduler, self.actor_ref)
            self._resume()
            self._arm_sync()

    def _resume(self) -> None:
        """Read what the store holds of this test: its decisions (a concluded test stays concluded), then its totals."""
        assert self._stats is not None
        assert self._shared is not None
        try:
            stored = self._stats.store.get_document(AB_STATE, self._stats.prefix)
        except Exception as exc:  # noqa: BLE001 - it runs on; the next decision writes it again
            log.warning("A/B test %s: decisions not read at start: %s", self.experiment_id, exc)
            stored = None
        if stored is not None:
            decisions = stored.get("decisions")
            self._decisions = [d for d in decisions if isinstance(d, dict)] if isinstance(decisions, list) else []
            self._concluded = stored.get("concluded") is True
            after = stored.get("after")
            self._after = after if isinstance(after, str) and after in self._spec.arms else self._spec.arms[0]
        try:
            self._covariates.update(self._stored_covariates())
        except Exception as exc:  # noqa: BLE001 - CUPED runs on what is recorded from now on
            log.warning("A/B test %s: covariates not read at start: %s", self.experiment_id, exc)
        view = self._shared.load()
        if view is not None:
            self._arms = view
            if not self._ended() and any(arm.answered for arm in view):
                self._look()

    def _stored_covariates(self) -> dict[str, float]:
        assert self._stats is not None
        prefix = f"{self._stats.prefix}/"
        found = {}
        for entry in self._stats.store.list_documents(AB_COVARIATE):
            value = entry.doc.get("value") if entry.doc is not None else None
            if entry.key.startswith(prefix) and isinstance(value, int | float) and not isinstance(value, bool):
                found[entry.key.removeprefix(prefix)] = float(value)
        return found

    def _keep(self) -> None:
        """Write the decisions behind (a restart or another process sees a concluded test as concluded)."""
        if self._stats is None:
            return
        doc: Document = {"decisions": list(self._decisions), "concluded": self._concluded, "after": self._after}
        safe_tell(self._stats.state, Persist((Write(AB_STATE, self._stats.prefix, doc),), Reply()))

    def _arm_sync(self) -> None:
        if self._shared is not None and self._timers is not None:
            self._timers.apply([(_SYNC, self._deps.clock.monotonic() + self._shared.sync.interval_s)])

    def _sync(self) -> None:
        if self._shared is None or self._ended():
            return
        self._shared.send()
        self._arm_sync()

    def _adopt(self, view: list[ArmStats] | None) -> None:
        """Take every process's totals as the arms, and look at them (the sequential test sees the merged data)."""
        if view is not None and not self._ended():
            self._arms = view
            if any(arm.answered for arm in view):
                self._look()

    @handles(TimerFired)
    def _on_timer(self, m: TimerFired) -> None:
        if m.name == _SYNC:
            self._sync()

    @handles(CountersRead)
    def _on_counters(self, m: CountersRead) -> None:
        if self._shared is not None:
            self._adopt(self._shared.received(m))

    def release(self) -> None:
        """Hand the last tallies to the state actor before the final report (experiment thread)."""
        super().release()
        for waiting in self._waiting_outcomes.values():  # the store's answers would come too late
            waiting.reply.set(False)
        self._waiting_outcomes.clear()
        if self._timers is not None:
            self._timers.cancel_all()
        if self._shared is not None:
            self._shared.flush()

    def on_stop(self) -> None:
        """Stop syncing (experiment thread)."""
        if self._timers is not None:
            self._timers.cancel_all()

    def _ended(self) -> bool:
        d = self._spec.duration_s
        return self._stopped or self._concluded or (d is not None and self._deps.clock.monotonic() - self._started >= d)

    def serve(self, m: ServeExperiment) -> None:
        """Assign an arm, remember it for outcomes, forward with an observing reply."""
        if self._ended():
            if self._canary is not None and safe_tell(self._canary, m):
                return
            self.forward(m.request, self._after, m.reply, m.started_at, m.timeout_ms)
            return
        arm = assign(self._spec, m.key, self._rng.random())
        self._arms[arm].assign(m.key)
        if self._shared is not None:
            self._shared.local[arm].assign(m.key)
        self._requests[m.request.request_id] = (arm, m.key)
        if len(self._requests) > _REMEMBERED_REQUESTS:
            self._requests.popitem(last=False)
        if self._shared is not None:  # an outcome may come after a restart, or to another process
            self._shared.served(f"{self._shared.sync.prefix}/{m.request.request_id}", {"arm": arm, "key": m.key})
        reply = ObservedReply(self.actor_ref, (arm, m.key), m.reply)
        self.forward(m.request, self._spec.arms[arm], reply, m.started_at, m.timeout_ms)

    def observe(self, tag: object, response: ModelResponse) -> None:
        """Count the answer for its arm and unit (unless the test has ended), then look."""
        if self._ended() or not isinstance(tag, tuple):
            return
        arm, key = tag
        counted = (self._arms[arm],) if self._shared is None else (self._arms[arm], self._shared.local[arm])
        for arm_stats in counted:
            arm_stats.record(
                success=response.success,
                latency_ms=response.latency_ms,
                cost_usd=response.cost_usd,
                tokens=response.tokens_used,
                error_code=response.error_code,
                key=key,
            )
        self._look()

    @handles(RecordOutcome)
    def _record_outcome(self, m: RecordOutcome) -> None:
        entry = self._requests.get(m.request_id)
        if self._ended():
            m.reply.set(False)
            return
        if entry is None:
            self._recall(m)
            return
        self._count_outcome(m, *entry)

    def _recall(self, m: RecordOutcome) -> None:
        """A request this process does not know: ask the store which arm served it (elsewhere, or before a restart)."""
        if self._stats is None or not isinstance(m.request_id, str) or not m.request_id:
            m.reply.set(False)
            return
        if len(self._waiting_outcomes) >= _MAX_RECALLS:
            m.reply.set(False)  # a store that does not answer: refuse rather than hold ever more callers
            return
        self._recalls += 1
        tag = f"outcome-{self._recalls}"
        key = f"{self._stats.prefix}/{m.request_id}"
        query = AskStore(lambda store: store.get_document(AB_REQUEST, key), tag, self.actor_ref)
        if not safe_tell(self._stats.state, query):
            m.reply.set(False)
            return
        self._waiting_outcomes[tag] = m

    @handles(StoreAnswer)
    def _on_recalled(self, m: StoreAnswer) -> None:
        waiting = self._waiting_outcomes.pop(m.tag, None)
        if waiting is None:
            return
        doc = m.value
        arm = doc.get("arm") if isinstance(doc, dict) else None
        if self._ended() or not isinstance(arm, int) or not 0 <= arm < len(self._arms):
            waiting.reply.set(False)
            return
        key = doc.get("key") if isinstance(doc, dict) else None
        self._count_outcome(waiting, arm, key if isinstance(key, str) else None)

    def _count_outcome(self, m: RecordOutcome, arm: int, key: str | None) -> None:
        self._arms[arm].record_custom(m.metric, m.value, key)
        if self._shared is not None:
            self._shared.local[arm].record_custom(m.metric, m.value, key)
        m.reply.set(True)
        if m.metric == self._spec.success_metric:
            self._look()

    @handles(RecordCovariate)
    def _record_covariate(self, m: RecordCovariate) -> None:
        if self._ended():
            m.reply.set(False)
            return
        self._covariates[m.key] = m.value
        m.reply.set(True)
        if self._stats is not None:  # kept, so a restarted test adjusts with it too
            key = f"{self._stats.prefix}/{m.key}"
            safe_tell(self._stats.state, Remember(AB_COVARIATE, ((key, {"value": m.value}),), COVARIATE_KEEP_MS))

    # --- sequential looks and the decision ------------------------------------

    def _look(self) -> None:
        self._sequential = sequential_look(self._spec, self._arms, self._sequential)
        if not self._spec.sequential or not may_decide(self._sequential, alpha=self._spec.alpha, mde=self._spec.mde):
            return
        verdict = sequential_verdict(self._spec, self._arms, self._sequential)
        if verdict.status == "running" or (self._decisions and self._spec.conclude == "never"):
            return  # report-only tests record their first decision and run on
        self._decide(verdict)

    def _decide(self, verdict: Verdict) -> None:
        spec, state = self._spec, self._sequential
        action = {"never": "none", "stop": "stop", "promote": "promote"}[spec.conclude]
        decision: dict[str, object] = {
            "at": self._deps.clock.now().isoformat(),
            "elapsed_s": self._deps.clock.monotonic() - self._started,
            "outcome": verdict.status,
            "winner": arm_label(verdict.winner) if verdict.winner is not None else None,
            "reason": verdict.reason,
            "action": action,
            "n_per_arm": sample_counts(spec, self._arms),
            "units_per_arm": [arm.ledger.ratio(spec.success_metric).units for arm in self._arms],
            "looks": state.tests[0].looks,
            "p_values": [t.p_value for t in state.tests],
            "p_values_holm": list(verdict.adjusted),
            "confidence_sequences": [[t.lower, t.upper] for t in state.tests],
            "differences": [r.difference for r in state.last],
            "tau": [t.tau for t in state.tests],
        }
        self._decisions.append(decision)
        log.info("A/B test %s: %s (%s): %s", self.experiment_id, verdict.status, action, verdict.reason)
        if action != "none":
            self._concluded = True
            if self._shared is not None:
                self._shared.flush()  # the tallies up to the conclusion, now: no more syncs follow
            if action == "promote" and verdict.winner:
                self._start_promotion(decision, spec.arms[verdict.winner])
        self._keep()

    def _start_promotion(self, decision: dict[str, object], winner: str) -> None:
        control = self._spec.arms[0]
        self._after = winner
        if self._promote is None:
            decision["promotion"] = {"error": "no canary machinery given"}
            return
        try:
            canary_id, self._canary = self._promote(control, winner)
        except Exception as exc:  # noqa: BLE001 - a refused canary (runtime stopping, id taken) is recorded
            decision["promotion"] = {"error": f"{type(exc).__name__}: {exc}", "candidate": winner}
            log.warning("A/B test %s: promoting %s failed: %s", self.experiment_id, winner, exc)
            return
        decision["promotion"] = {"canary_id": canary_id, "baseline": control, "candidate": winner}

    def report(self) -> dict[str, object]:
        """The analysis of domain.abtest plus the split, the decisions and any promotion."""
        elapsed = self._deps.clock.monotonic() - self._started
        report = analyze(
            self._spec,
            self._arms,
            elapsed_s=elapsed,
            ended=self._ended(),
            sequential=self._sequential,
            covariates=self._covariates,
            decisions=self._decisions,
        )
        concluded = next((d for d in self._decisions if d["action"] != "none"), None)
        return {**report, "concluded": concluded is not None, "conclusion": concluded}
