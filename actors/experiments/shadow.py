"""ShadowActor: the primary answers; copies go to the shadow through a bounded queue."""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from dataclasses import dataclass

from actorserve.actors.experiments.base import (
    ExperimentActor,
    ExperimentDeps,
    ObservedReply,
    ServeExperiment,
    copy_request,
)
from actorserve.domain.entities import ModelResponse
from actorserve.domain.errors import ConfigError
from actorserve.domain.predictions import check_vote_on
from actorserve.domain.shadow import ShadowStats

__all__ = ["ShadowActor", "ShadowSpec"]

_PENDING_PAIRS = 10_000

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShadowSpec:
    """A shadow deployment.

    Attributes:
        shadow_id: its id.
        primary: the version that answers callers.
        shadow: the version that sees copies.
        traffic_percentage: share of requests copied to the shadow.
        queue_size: most copies outstanding at the shadow; more are dropped and counted.
        shadow_timeout_ms: deadline of each copy (None: the shadow version's default).
        rel_tol, abs_tol: numeric tolerance for "agrees within tolerance".
        vote_on: what of the outputs is compared, as for ensembles (None: the
            prediction by the default rule of `domain.predictions.prediction`).
    """

    shadow_id: str
    primary: str
    shadow: str
    traffic_percentage: float = 100.0
    queue_size: int = 64
    shadow_timeout_ms: float | None = None
    rel_tol: float = 1e-6
    abs_tol: float = 1e-9
    vote_on: str | None = None

    def __post_init__(self) -> None:
        if self.primary == self.shadow:
            raise ConfigError("shadow_model_id: must differ from the primary", field="shadow_model_id")
        if not 0.0 <= self.traffic_percentage <= 100.0:
            msg = f"traffic_percentage: must be between 0 and 100 (got {self.traffic_percentage!r})"
            raise ConfigError(msg, field="traffic_percentage")
        if not isinstance(self.queue_size, int) or self.queue_size < 1:
            raise ConfigError(f"queue_size: must be an integer >= 1 (got {self.queue_size!r})", field="queue_size")
        if self.shadow_timeout_ms is not None and not self.shadow_timeout_ms > 0:
            raise ConfigError("shadow_timeout_ms: must be > 0 or None", field="shadow_timeout_ms")
        if self.rel_tol < 0 or self.abs_tol < 0:
            raise ConfigError("rel_tol: tolerances must be >= 0", field="rel_tol")
        problem = check_vote_on(self.vote_on)
        if problem is not None:
            raise ConfigError(f"vote_on: {problem}", field="vote_on")


def _result(response: ModelResponse) -> dict[str, object]:
    return {
        "success": response.success,
        "output": response.output_data,
        "latency_ms": response.latency_ms,
        "error_code": response.error_code.value if response.error_code else None,
    }


class ShadowActor(ExperimentActor):
    """Mirrors traffic to a shadow and compares (experiment thread).

    The caller's reply completes when the primary answers, whatever the
    shadow does. Copies beyond `queue_size` outstanding are dropped (never
    queued behind or ahead of primary work), so a hanging shadow cannot grow
    anything without bound. The shadow's copy has its own deep copy of the
    input, so a backend that edits its input cannot change the primary's answer,
    and a comparison that raises is counted, never fatal.
    """

    kind = "shadow"

    def __init__(self, *, spec: ShadowSpec, deps: ExperimentDeps, models: dict[str, str], seed: int | None) -> None:
        super().__init__(experiment_id=spec.shadow_id, deps=deps, models=models)
        self._spec = spec
        self._rng = random.Random(seed)
        self._stats = ShadowStats()
        self._outstanding = 0
        self._pairs: OrderedDict[str, dict[str, dict[str, object] | None]] = OrderedDict()

    def serve(self, m: ServeExperiment) -> None:
        """Forward to the primary; maybe copy to the shadow."""
        spec = self._spec
        mirror = spec.traffic_percentage >= 100.0 or self._rng.random() * 100.0 < spec.traffic_percentage
        if not mirror:
            self.forward(m.request, spec.primary, m.reply, m.started_at, m.timeout_ms)
            return
        pair = m.request.request_id
        copy = copy_request(m.request, f"{pair}-shadow")  # taken before the primary can touch the input
        self.forward(
            m.request, spec.primary, ObservedReply(self.actor_ref, ("p", pair), m.reply), m.started_at, m.timeout_ms
        )
        if self._outstanding >= spec.queue_size:
            self._stats.dropped += 1
            return
        self._outstanding += 1
        self._stats.mirrored += 1
        self._pairs[pair] = {"p": None, "s": None}
        while len(self._pairs) > _PENDING_PAIRS:
            self._pairs.popitem(last=False)
        now = self._deps.clock.monotonic()
        self.forward(copy, spec.shadow, ObservedReply(self.actor_ref, ("s", pair), None), now, spec.shadow_timeout_ms)

    def observe(self, tag: object, response: ModelResponse) -> None:
        """Pair the primary's and the shadow's answers; compare when both are in."""
        if not isinstance(tag, tuple):
            return
        side, pair = tag
        if side == "s":
            self._outstanding -= 1
        slots = self._pairs.get(pair)
        if slots is None:
            return
        slots[side] = _result(response)
        primary, shadow = slots["p"], slots["s"]
        if primary is not None and shadow is not None:
            del self._pairs[pair]
            at = self._deps.clock.now().isoformat()
            spec = self._spec
            try:
                self._stats.record(
                    primary, shadow, rel_tol=spec.rel_tol, abs_tol=spec.abs_tol, at=at, vote_on=spec.vote_on
                )
            except Exception:
                # the primary's caller has its answer already; a comparison only ever costs a count
                log.exception("shadow %s: comparing request %s failed", spec.shadow_id, pair)
                self._stats.comparison_errors += 1

    def report(self) -> dict[str, object]:
        """Upstream keys (shadow_id, primary_model, shadow_model, ...) and the comparison figures."""
        return {
            "shadow_id": self._spec.shadow_id,
            "primary_model": self._spec.primary,
            "shadow_model": self._spec.shadow,
            "traffic_percentage": self._spec.traffic_percentage,
            "vote_on": self._spec.vote_on,
            "outstanding": self._outstanding,
            **self._stats.report(),
        }
