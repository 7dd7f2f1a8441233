"""RouterActor: model name → READY versions; picks one per request and forwards it."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pykka

from actorserve.actors.base import ServingActor, describe_exception, handles
from actorserve.actors.failures import failed_response
from actorserve.actors.keys import VersionKey
from actorserve.actors.messages import (
    Count,
    Drain,
    Infer,
    Route,
    SetRouting,
    StatusChanged,
    Unroute,
    VersionAdded,
    VersionStats,
    safe_tell,
)
from actorserve.actors.tracking import ThreadTracker
from actorserve.domain.enums import ErrorCode, ModelStatus
from actorserve.domain.lifecycle import ROUTABLE
from actorserve.domain.ports import Clock, RandomSource
from actorserve.domain.routing import Candidate, RoutingPolicy, RoutingRule, ThompsonPolicy, make_policy

__all__ = ["BANDIT_EVIDENCE", "RouterActor", "posteriors_from"]

BANDIT_EVIDENCE = "bandit"
"""Counter kind of INTELLIGENT routing's evidence (key: the model; fields `<version>.reward|shortfall`)."""


def posteriors_from(counters: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """Per version, (reward, shortfall) from a model's stored evidence counters."""
    out: dict[str, tuple[float, float]] = {}
    for name, value in counters.items():
        vid, _, part = name.rpartition(".")
        if vid and part in ("reward", "shortfall"):
            gained, lost = out.get(vid, (0.0, 0.0))
            out[vid] = (gained + float(value), lost) if part == "reward" else (gained, lost + float(value))
    return out


log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    model_name: str
    key: VersionKey
    ref: pykka.ActorRef[Any]
    status: ModelStatus
    candidate: Candidate


@dataclass(slots=True)
class _Model:
    rule: RoutingRule | None = None
    policy: RoutingPolicy | None = None
    ready: tuple[Candidate, ...] = ()
    seed: Mapping[str, tuple[float, float]] | None = None
    """Bandit evidence kept from before (a restore), folded into the policy when it is made."""


class RouterActor(ServingActor):
    """Forwards each `Route` to one READY version of the model as `Infer`.

    Learns versions from the registry (`VersionAdded`, `Unroute`) and their
    states and load figures from the versions themselves (`StatusChanged`,
    `VersionStats`). Answers NOT_FOUND / NOT_READY itself, and UNAVAILABLE
    when the chosen version's actor is already gone. Runs on its own thread.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        tracker: ThreadTracker,
        rng: RandomSource | None = None,
        state: pykka.ActorRef[Any] | None = None,
    ) -> None:
        super().__init__()
        self._state = state  # the state actor: INTELLIGENT routing's evidence is written behind to it
        self._clock = clock
        self._tracker = tracker
        self._rng: RandomSource = rng if rng is not None else random.Random()
        self._versions: dict[str, _Entry] = {}
        self._models: dict[str, _Model] = {}

    def on_start(self) -> None:
        """Register the thread for leak checks (router thread)."""
        self._tracker.add_current()

    # --- request path --------------------------------------------------------

    @handles(Route)
    def _on_route(self, m: Route) -> None:
        # A request's content (its key, say) must never stop the router: every later
        # request would be answered UNAVAILABLE. What raises answers this request only.
        try:
            self._route(m)
        except Exception as exc:
            log.exception("routing request %s failed", m.request.request_id, extra={"model": m.request.model_id})
            self._fail(m, ErrorCode.MODEL_ERROR, f"Routing failed: {describe_exception(exc)}")

    def _route(self, m: Route) -> None:
        model_name = m.request.model_id
        if m.version_id is not None:
            entry = self._versions.get(m.version_id)
            if entry is None or entry.model_name != model_name:
                self._fail(m, ErrorCode.NOT_FOUND, f"Version {m.version_id!r} of model {model_name!r} not found")
                return
            if entry.status not in ROUTABLE:
                self._fail(m, ErrorCode.NOT_READY, "Model not ready")
                return
        else:
            model = self._models.get(model_name)
            if model is None:
                self._fail(m, ErrorCode.NOT_FOUND, f"Model {model_name!r} not found")
                return
            if not model.ready:
                self._fail(m, ErrorCode.NOT_READY, "Model not ready")
                return
            policy = model.policy or self._policy_for(model)
            chosen = policy.choose(model.ready, m.key)
            entry = self._versions[chosen.version_id]
        m.request.version_id = entry.candidate.version_id
        try:
            entry.ref.tell(Infer(m.request, m.reply, m.started_at, m.timeout_ms))
        except pykka.ActorDeadError:
            self._fail(m, ErrorCode.UNAVAILABLE, "Model version stopped")

    def _fail(self, m: Route, code: ErrorCode, error: str) -> None:
        m.reply.set(
            failed_response(
                self._clock,
                request_id=m.request.request_id,
                model_id=m.request.model_id,
                version_id=m.version_id,
                started_at=m.started_at,
                code=code,
                error=error,
            )
        )

    # --- membership ----------------------------------------------------------

    def _policy_for(self, model: _Model) -> RoutingPolicy:
        model.policy = make_policy(model.rule, self._rng)
        if isinstance(model.policy, ThompsonPolicy) and model.seed:
            for version_id, (gained, lost) in model.seed.items():
                model.policy.seed(version_id, gained, lost)
        return model.policy

    def _refresh(self, model_name: str) -> None:
        model = self._models.setdefault(model_name, _Model())
        model.ready = tuple(
            e.candidate for e in self._versions.values() if e.model_name == model_name and e.status in ROUTABLE
        )

    def _current(self, key: VersionKey) -> _Entry | None:
        """The entry of `key`'s version if `key` is its current generation (news from older ones is dropped)."""
        entry = self._versions.get(key.version_id)
        return entry if entry is not None and entry.key == key else None

    @handles(VersionAdded)
    def _on_added(self, m: VersionAdded) -> None:
        v = m.version
        old = self._versions.get(v.version_id)
        if old is not None and old.key.supersedes(m.key):
            return  # a newer generation is already known
        if old is not None and old.key == m.key:
            old.ref = m.ref  # unrouted before it introduced itself: stays DRAINING
            return
        self._versions[v.version_id] = _Entry(
            v.model_name,
            m.key,
            m.ref,
            ModelStatus.LOADING,
            Candidate(v.version_id, v.created_at, v.version_number),
        )
        self._refresh(v.model_name)

    @handles(StatusChanged)
    def _on_status(self, m: StatusChanged) -> None:
        entry = self._current(m.key)
        if entry is None:
            return
        if entry.status is ModelStatus.DRAINING and m.status is not ModelStatus.STOPPED:
            return  # unrouted: stays out of rotation whatever it reports
        entry.status = m.status
        if m.status is ModelStatus.STOPPED:
            del self._versions[m.key.version_id]
        self._refresh(entry.model_name)

    @handles(VersionStats)
    def _on_stats(self, m: VersionStats) -> None:
        entry = self._current(m.key)
        if entry is None:
            return
        entry.candidate = replace(
            entry.candidate,
            latency_ewma_ms=m.latency_ewma_ms,
            in_flight=m.in_flight,
            cost_per_request=m.cost_per_request,
        )
        model = self._models.get(entry.model_name)
        if model is not None and isinstance(model.policy, ThompsonPolicy):
            vid = m.key.version_id
            gained, lost = model.policy.observe(vid, m.successes, m.failures, m.latency_ewma_ms, m.cost_per_request)
            if self._state is not None and gained + lost > 0:
                evidence = {f"{vid}.reward": gained, f"{vid}.shortfall": lost}
                safe_tell(self._state, Count({(BANDIT_EVIDENCE, entry.model_name): evidence}))
        if entry.status in ROUTABLE:
            self._refresh(entry.model_name)

    @handles(Unroute)
    def _on_unroute(self, m: Unroute) -> None:
        v = m.version
        entry = self._versions.get(v.version_id)
        if entry is None or m.key.supersedes(entry.key):
            entry = _Entry(
                v.model_name,
                m.key,
                m.ref,
                ModelStatus.DRAINING,
                Candidate(v.version_id, v.created_at, v.version_number),
            )
            self._versions[v.version_id] = entry
        entry.status = ModelStatus.DRAINING
        self._refresh(entry.model_name)
        # Every Infer this router sent is already in the version's inbox, ahead of Drain.
        safe_tell(m.ref, Drain())

    @handles(SetRouting)
    def _on_set_routing(self, m: SetRouting) -> None:
        model = self._models.setdefault(m.model_name, _Model())
        model.rule = m.rule
        model.policy = None
        model.seed = m.posteriors
        log.info(
            "routing for %s: %s",
            m.model_name,
            m.rule.strategy.value if m.rule else "newest",
            extra={"model": m.model_name},
        )
        m.reply.set(True)
