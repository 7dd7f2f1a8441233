"""Routing policies: pure functions of the candidates, a key and an injected random source.

The router actor keeps one policy per model and calls `choose` per request
with the model's READY versions.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from actorserve.domain.enums import RoutingStrategy, coerce_enum
from actorserve.domain.errors import ConfigError
from actorserve.domain.ports import RandomSource

__all__ = [
    "BanditSettings",
    "Candidate",
    "LeastCostPolicy",
    "LeastLatencyPolicy",
    "NewestPolicy",
    "RoundRobinPolicy",
    "RoutingPolicy",
    "RoutingRule",
    "ThompsonPolicy",
    "WeightedPolicy",
    "make_policy",
    "newest_first",
    "rendezvous_choice",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A READY version as the router sees it."""

    version_id: str
    created_at: datetime
    version_number: str = ""
    latency_ewma_ms: float | None = None
    in_flight: int = 0
    cost_per_request: float | None = None


def _version_key(number: str) -> tuple[tuple[int, int | str], ...]:
    parts = re.split(r"[.\-+]", number)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def newest_first(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Candidates ordered newest first: by `created_at`, then `version_number`."""
    return sorted(
        candidates,
        key=lambda c: (c.created_at, _version_key(c.version_number)),
        reverse=True,
    )


def _unit_hash(key: str, version_id: str) -> float:
    # surrogatepass: a key decoded with surrogateescape (a lone "\ud800") still hashes, and
    # every other string encodes exactly as strict UTF-8 did, so assignments stay where they were
    text = f"{key}\x00{version_id}"
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    # map to (0, 1): never 0, so log() is defined
    return (int.from_bytes(digest, "big") + 1) / (2**64 + 1)


def rendezvous_choice(
    candidates: Sequence[Candidate],
    key: str,
    weights: Mapping[str, float] | None = None,
) -> Candidate:
    """Weighted rendezvous (highest-random-weight) hashing.

    The same key picks the same version while that version stays a candidate;
    removing a version moves only its own keys. Without weights every
    candidate weighs 1.
    """
    best: Candidate | None = None
    best_score = -math.inf
    for cand in candidates:
        weight = 1.0 if weights is None else weights.get(cand.version_id, 0.0)
        if weight <= 0:
            continue
        score = -weight / math.log(_unit_hash(key, cand.version_id))
        if score > best_score:
            best, best_score = cand, score
    return best if best is not None else newest_first(candidates)[0]


class RoutingPolicy(Protocol):
    """Picks one of a non-empty sequence of candidates."""

    def choose(self, candidates: Sequence[Candidate], key: str | None) -> Candidate:
        """The version this request goes to."""
        ...


class NewestPolicy:
    """No routing rule: the newest READY version takes everything (upstream behaviour)."""

    def choose(self, candidates: Sequence[Candidate], key: str | None) -> Candidate:
        """The newest candidate."""
        return newest_first(candidates)[0] if len(candidates) > 1 else candidates[0]


class RoundRobinPolicy:
    """Each version in turn; a key pins a caller to one version by rendezvous hashing."""

    def __init__(self) -> None:
        self._next = 0

    def choose(self, candidates: Sequence[Candidate], key: str | None) -> Candidate:
        """The next candidate in turn, or the key's."""
        if key is not None:
            return rendezvous_choice(candidates, key)
        cand = candidates[self._next % len(candidates)]
        self._next += 1
        return cand


class WeightedPolicy:
    """Random split by weight; a key pins a caller by weighted rendezvous hashing.

    Versions without a weight get none of the traffic unless no weighted
    version is a candidate, when the newest candidate takes it.
    """

    def __init__(self, weights: Mapping[str, float], rng: RandomSource) -> None:
        self._weights = dict(weights)
        self._rng = rng

    def choose(self, candidates: Sequence[Candidate], key: str | None) -> Candidate:
        """A weighted random candidate, or the key's."""
        weighted = [(c, self._weights.get(c.version_id, 0.0)) for c in candidates]
        total = sum(w for _, w in weighted)
        if total <= 0:
            return newest_first(candidates)[0]
        if key is not None:
            return rendezvous_choice(candidates, key, self._weights)
        point = self._rng.random() * total
        for cand, weight in weighted:
            point -= weight
            if point < 0 and weight > 0:
                return cand
        return next(c for c, w in reversed(weighted) if w > 0)


class LeastLatencyPolicy:
    """Power of two choices on latency EWMA scaled by in-flight load.

    Two random candidates are compared and the one with the lower
    `ewma * (in_flight + 1)` wins; a version with no samples yet scores 0 so
    it gets explored. Sampling two avoids the herd that always-pick-the-best
    causes when the figures are stale.
    """

    def __init__(self, rng: RandomSource) -> None:
        self._rng = rng

    @staticmethod
    def score(cand: Candidate) -> float:
        """Lower is better."""
        return (cand.latency_ewma_ms or 0.0) * (cand.in_flight + 1)

    def choose(self, candidates: Sequence[Candidate], key: str | None) -> Candidate:
        """The better of two random candidates, or the key's."""
        if key is not None:
            return rendezvous_choice(candidates, key)
        n = len(candidates)
        if n == 1:
            return candidates[0]
        i = self._rng.randrange(n)
        j = self._rng.randrange(n - 1)
        if j >= i:
            j += 1
        a, b = candidates[i], candidates[j]
        return a if self.score(a) <= self.score(b) else b


class LeastCostPolicy:
    """The cheapest version per request; ties go to the lower latency, then the newest."""

    def choose(self, candidates: Sequence[Candidate], key: str | None) -> Candidate:
        """The cheapest candidate, or the key's."""
        if key is not None:
            return rendezvous_choice(candidates, key)
        ordered = newest_first(candidates)
        return min(
            ordered,
            key=lambda c: (
                c.cost_per_request if c.cost_per_request is not None else 0.0,
                c.latency_ewma_ms if c.latency_ewma_ms is not None else 0.0,
            ),
        )


@dataclass(frozen=True, slots=True)
class BanditSettings:
    """How INTELLIGENT routing scores a version.

    A success earns `1 - latency_weight * min(latency / latency_ref_ms, 1)
    - cost_weight * min(cost / cost_ref_usd, 1)` (at least 0); a failure earns 0.
    """

    latency_weight: float = 0.3
    cost_weight: float = 0.0
    latency_ref_ms: float = 1000.0
    cost_ref_usd: float = 0.01

    def __post_init__(self) -> None:
        for name in ("latency_weight", "cost_weight"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ConfigError(f"bandit.{name}: must be between 0 and 1 (got {value!r})", field=f"bandit.{name}")
        for name in ("latency_ref_ms", "cost_ref_usd"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"bandit.{name}: must be a number > 0 (got {value!r})", field=f"bandit.{name}")

    def reward(self, latency_ms: float | None, cost_usd: float | None) -> float:
        """What one success is worth, in [0, 1]."""
        penalty = self.latency_weight * min((latency_ms or 0.0) / self.latency_ref_ms, 1.0)
        penalty += self.cost_weight * min((cost_usd or 0.0) / self.cost_ref_usd, 1.0)
        return max(0.0, 1.0 - penalty)


class ThompsonPolicy:
    """Thompson sampling over the versions of a model (INTELLIGENT routing).

    Each version has a Beta posterior over its reward; every request goes to
    the version whose posterior draw is highest, so traffic shifts towards
    the better version as evidence accumulates while the others keep being
    explored a little. Fed by `observe` with cumulative counts.
    """

    def __init__(self, settings: BanditSettings, rng: RandomSource) -> None:
        self._settings = settings
        self._rng = rng
        self._posterior: dict[str, list[float]] = {}
        self._seen: dict[str, tuple[int, int]] = {}

    def observe(
        self, version_id: str, successes: int, failures: int, latency_ms: float | None, cost_usd: float | None
    ) -> tuple[float, float]:
        """Fold in what happened since the last observation of `version_id` (counts are cumulative).

        Returns the evidence added, (reward, shortfall): what a state store
        keeps so a restarted runtime starts from the same posteriors (`seed`).
        """
        prev_ok, prev_failed = self._seen.get(version_id, (0, 0))
        new_ok, new_failed = successes - prev_ok, failures - prev_failed
        if new_ok < 0 or new_failed < 0:  # the version restarted: its counters did too
            new_ok, new_failed = successes, failures
        self._seen[version_id] = (successes, failures)
        if new_ok + new_failed == 0:
            return 0.0, 0.0
        gained = new_ok * self._settings.reward(latency_ms, cost_usd)
        lost = new_ok + new_failed - gained
        self.seed(version_id, gained, lost)
        return gained, lost

    def seed(self, version_id: str, gained: float, lost: float) -> None:
        """Add evidence gathered elsewhere (before a restart, or by another process) to `version_id`'s posterior."""
        posterior = self._posterior.setdefault(version_id, [1.0, 1.0])
        posterior[0] += max(gained, 0.0)
        posterior[1] += max(lost, 0.0)

    def posterior(self, version_id: str) -> tuple[float, float]:
        """(alpha, beta) of the version's reward posterior."""
        alpha, beta = self._posterior.get(version_id, (1.0, 1.0))
        return alpha, beta

    def choose(self, candidates: Sequence[Candidate], key: str | None) -> Candidate:
        """The version with the highest posterior draw, or the key's."""
        if key is not None:
            return rendezvous_choice(candidates, key)
        if len(candidates) == 1:
            return candidates[0]
        return max(candidates, key=lambda c: self._rng.betavariate(*self.posterior(c.version_id)))


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """A model's routing rule, validated when built."""

    strategy: RoutingStrategy
    weights: Mapping[str, float] = field(default_factory=dict)
    bandit: BanditSettings = field(default_factory=BanditSettings)

    @classmethod
    def create(
        cls,
        strategy: RoutingStrategy | str,
        weights: Mapping[str, float] | None = None,
        bandit: Mapping[str, float] | None = None,
    ) -> RoutingRule:
        """Validate and build a rule; `bandit` holds `BanditSettings` fields for INTELLIGENT.

        Raises:
            ConfigError: unknown strategy, bad weights, weights missing for WEIGHTED, bad bandit settings.
        """
        strategy = coerce_enum(RoutingStrategy, strategy, "strategy")
        settings = BanditSettings()
        if bandit is not None:
            known = set(BanditSettings.__dataclass_fields__)
            for name in bandit:
                if name not in known:
                    raise ConfigError(
                        f"bandit.{name}: unknown setting (expected one of: {', '.join(sorted(known))})",
                        field=f"bandit.{name}",
                    )
            settings = BanditSettings(**bandit)
        clean: dict[str, float] = {}
        if weights is not None:
            if not isinstance(weights, Mapping):
                msg = f"weights: must be a mapping of version id to number (got {type(weights).__name__})"
                raise ConfigError(msg, field="weights")
            for vid, w in weights.items():
                if not isinstance(vid, str) or not vid.strip():
                    raise ConfigError(f"weights: version id must be a non-empty string (got {vid!r})", field="weights")
                if not isinstance(w, int | float) or isinstance(w, bool) or not math.isfinite(w) or w < 0:
                    raise ConfigError(f"weights[{vid}]: must be a number >= 0 (got {w!r})", field=f"weights[{vid}]")
                clean[vid] = float(w)
        if strategy is RoutingStrategy.WEIGHTED and sum(clean.values()) <= 0:
            raise ConfigError("weights: WEIGHTED routing needs at least one weight > 0", field="weights")
        return cls(strategy=strategy, weights=clean, bandit=settings)


def make_policy(rule: RoutingRule | None, rng: RandomSource) -> RoutingPolicy:
    """The policy object for a rule (None: newest READY version)."""
    if rule is None:
        return NewestPolicy()
    match rule.strategy:
        case RoutingStrategy.ROUND_ROBIN:
            return RoundRobinPolicy()
        case RoutingStrategy.WEIGHTED:
            return WeightedPolicy(rule.weights, rng)
        case RoutingStrategy.LEAST_LATENCY:
            return LeastLatencyPolicy(rng)
        case RoutingStrategy.LEAST_COST:
            return LeastCostPolicy()
        case RoutingStrategy.INTELLIGENT:
            return ThompsonPolicy(rule.bandit, rng)
        case _:
            msg = f"strategy: {rule.strategy.value!r} has no policy"
            raise ConfigError(msg, field="strategy")
