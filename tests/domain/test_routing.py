from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from actorserve.domain import Candidate, ConfigError, RoutingRule, RoutingStrategy, make_policy
from actorserve.domain.routing import (
    BanditSettings,
    LeastCostPolicy,
    LeastLatencyPolicy,
    NewestPolicy,
    RoundRobinPolicy,
    ThompsonPolicy,
    WeightedPolicy,
    newest_first,
    rendezvous_choice,
)
from tests.fakes import FakeRandom

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def cand(vid: str, *, age: int = 0, number: str = "1.0.0", **kw: object) -> Candidate:
    return Candidate(vid, T0 - timedelta(seconds=age), number, **kw)  # type: ignore[arg-type]


def test_newest_orders_by_created_at_then_version_number() -> None:
    a, b = cand("a", age=10), cand("b", age=0)
    assert NewestPolicy().choose([a, b], None) is b
    c, d = cand("c", number="1.10.0"), cand("d", number="1.9.0")
    assert newest_first([d, c])[0] is c


def test_round_robin_takes_each_in_turn() -> None:
    cs = [cand("a"), cand("b"), cand("c")]
    p = RoundRobinPolicy()
    assert [p.choose(cs, None).version_id for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_weighted_split_follows_the_weights() -> None:
    cs = [cand("a"), cand("b")]
    p = WeightedPolicy({"a": 0.9, "b": 0.1}, random.Random(7))
    counts = Counter(p.choose(cs, None).version_id for _ in range(10_000))
    assert 0.88 < counts["a"] / 10_000 < 0.92


def test_weighted_falls_back_to_the_newest_when_no_weighted_version_is_ready() -> None:
    cs = [cand("old", age=5), cand("new")]
    assert WeightedPolicy({"gone": 1.0}, FakeRandom([0.5])).choose(cs, None).version_id == "new"


def test_sticky_key_always_picks_the_same_version() -> None:
    cs = [cand(f"v{i}") for i in range(5)]
    for key in ("alice", "bob", "carol"):
        picks = {rendezvous_choice(cs, key).version_id for _ in range(10)}
        assert len(picks) == 1


def test_removing_a_version_only_moves_its_own_keys() -> None:
    cs = [cand(f"v{i}") for i in range(5)]
    keys = [f"user-{i}" for i in range(2000)]
    before = {k: rendezvous_choice(cs, k).version_id for k in keys}
    after = {k: rendezvous_choice(cs[:-1], k).version_id for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert all(before[k] == "v4" for k in moved)
    assert 300 < len(moved) < 500  # about a fifth of the keys


def test_weighted_sticky_hashing_follows_the_weights() -> None:
    cs = [cand("a"), cand("b")]
    counts = Counter(rendezvous_choice(cs, f"k{i}", {"a": 3.0, "b": 1.0}).version_id for i in range(8000))
    assert 0.72 < counts["a"] / 8000 < 0.78


def test_least_latency_compares_two_and_keeps_the_faster() -> None:
    slow = cand("slow", latency_ewma_ms=50.0)
    fast = cand("fast", latency_ewma_ms=5.0)
    p = LeastLatencyPolicy(FakeRandom([0.0], ints=[0, 0]))
    assert p.choose([slow, fast], None) is fast


def test_least_latency_penalises_in_flight_load() -> None:
    busy = cand("busy", latency_ewma_ms=5.0, in_flight=20)
    idle = cand("idle", latency_ewma_ms=20.0, in_flight=0)
    assert LeastLatencyPolicy(random.Random(1)).choose([busy, idle], None) is idle


def test_least_latency_spreads_load_over_equal_versions() -> None:
    cs = [cand(f"v{i}", latency_ewma_ms=10.0) for i in range(4)]
    p = LeastLatencyPolicy(random.Random(3))
    counts = Counter(p.choose(cs, None).version_id for _ in range(4000))
    assert len(counts) == 4


def test_least_cost_picks_the_cheapest_then_the_faster() -> None:
    cs = [cand("a", cost_per_request=0.02), cand("b", cost_per_request=0.01, latency_ewma_ms=9.0)]
    cs.append(cand("c", cost_per_request=0.01, latency_ewma_ms=3.0))
    assert LeastCostPolicy().choose(cs, None).version_id == "c"


def test_rules_validate_strategy_and_weights() -> None:
    with pytest.raises(ConfigError, match="^strategy: unknown value 'fastest'"):
        RoutingRule.create("fastest")
    with pytest.raises(ConfigError, match=r"^weights\[a\]: must be a number >= 0"):
        RoutingRule.create(RoutingStrategy.WEIGHTED, {"a": -1})
    with pytest.raises(ConfigError, match="^weights: WEIGHTED routing needs"):
        RoutingRule.create(RoutingStrategy.WEIGHTED, {})
    with pytest.raises(ConfigError, match=r"^bandit\.latency_weight: must be between 0 and 1"):
        RoutingRule.create("intelligent", bandit={"latency_weight": 2})
    with pytest.raises(ConfigError, match=r"^bandit\.speed: unknown setting"):
        RoutingRule.create("intelligent", bandit={"speed": 1})
    assert isinstance(make_policy(RoutingRule.create("intelligent"), random.Random()), ThompsonPolicy)
    rule = RoutingRule.create("weighted", {"a": 1})
    assert isinstance(make_policy(rule, random.Random()), WeightedPolicy)
    assert isinstance(make_policy(None, random.Random()), NewestPolicy)


def simulate_bandit(policy: ThompsonPolicy, rates: dict[str, float], rng: random.Random, rounds: int) -> list[str]:
    cs = [cand(vid) for vid in rates]
    counts = {vid: [0, 0] for vid in rates}
    picks = []
    for i in range(rounds):
        chosen = policy.choose(cs, None).version_id
        picks.append(chosen)
        counts[chosen][0 if rng.random() < rates[chosen] else 1] += 1
        if i % 20 == 19:  # stats arrive in batches, as from the version actors
            for vid, (ok, failed) in counts.items():
                policy.observe(vid, ok, failed, latency_ms=10.0, cost_usd=0.0)
    return picks


@pytest.mark.parametrize("seed", range(10))
def test_the_bandit_converges_to_the_more_successful_version(seed: int) -> None:
    policy = ThompsonPolicy(BanditSettings(latency_weight=0.0), random.Random(seed))
    picks = simulate_bandit(policy, {"good": 0.95, "bad": 0.80}, random.Random(seed + 100), 3000)
    assert picks[-1000:].count("good") >= 850


def test_the_bandit_prefers_the_faster_version_when_both_succeed() -> None:
    policy = ThompsonPolicy(BanditSettings(latency_weight=0.8, latency_ref_ms=100.0), random.Random(1))
    cs = [cand("fast"), cand("slow")]
    seen = {"fast": 0, "slow": 0}
    picks = []
    for i in range(2000):
        chosen = policy.choose(cs, None).version_id
        picks.append(chosen)
        seen[chosen] += 1
        if i % 20 == 19:
            policy.observe("fast", seen["fast"], 0, latency_ms=10.0, cost_usd=None)
            policy.observe("slow", seen["slow"], 0, latency_ms=90.0, cost_usd=None)
    assert picks[-500:].count("fast") >= 400


def test_bandit_rewards_and_restarts() -> None:
    settings = BanditSettings(latency_weight=0.5, cost_weight=0.5, latency_ref_ms=100.0, cost_ref_usd=0.02)
    assert settings.reward(50.0, 0.01) == pytest.approx(0.5)
    assert settings.reward(500.0, 1.0) == 0.0
    policy = ThompsonPolicy(BanditSettings(latency_weight=0.0), random.Random(0))
    policy.observe("v", 10, 0, None, None)
    policy.observe("v", 3, 1, None, None)  # counters went backwards: a restarted version
    assert policy.posterior("v") == (1.0 + 10 + 3, 1.0 + 1)
