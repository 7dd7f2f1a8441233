"""Adaptive batching policy: the cost fit and the decision, with synthetic costs and a fake clock."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorserve.domain.batching import (
    AdaptiveBatcher,
    ArrivalGaps,
    BatchCost,
    BatchCostModel,
    Decision,
    decide,
    hopeless,
)


@dataclass(frozen=True)
class Item:
    enqueued_at: float = 0.0
    deadline: float = 100.0


def fitted(samples: list[tuple[int, float]], window: int = 64) -> BatchCost:
    model = BatchCostModel(window)
    for n, d in samples:
        model.record(n, d)
    assert model.cost is not None
    return model.cost


# --- the cost fit --------------------------------------------------------------------------------------


def test_the_fit_recovers_a_linear_cost_exactly() -> None:
    cost = fitted([(n, 0.002 * n + 0.010) for n in (1, 4, 2, 8, 16, 3)])
    assert cost.per_item_s == pytest.approx(0.002)
    assert cost.fixed_s == pytest.approx(0.010)
    assert cost.samples == 6
    assert cost.of(10) == pytest.approx(0.030)


def test_the_fit_is_unknown_until_min_samples() -> None:
    model = BatchCostModel(8, min_samples=3)
    model.record(1, 0.01)
    model.record(2, 0.02)
    assert model.cost is None
    model.record(3, 0.03)
    assert model.cost is not None


def test_one_distinct_size_is_read_as_a_proportional_cost() -> None:
    cost = fitted([(1, 0.004), (1, 0.006)])
    assert cost == BatchCost(0.005, 0.0, 2)  # no evidence that batching saves anything


def test_when_every_batch_is_one_size_the_last_slope_is_kept_and_the_intercept_refitted() -> None:
    model = BatchCostModel(window=4)
    for n in (1, 2, 4, 8):
        model.record(n, 0.001 * n + 0.009)
    for _ in range(4):  # heavy load: every batch full, so the window alone cannot split a from b
        model.record(16, 0.001 * 16 + 0.009)
    assert model.cost is not None
    assert model.cost.per_item_s == pytest.approx(0.001)
    assert model.cost.fixed_s == pytest.approx(0.009)
    model.record(16, 0.001 * 16 + 0.017)  # one slow call: the intercept absorbs it, the slope stays
    assert model.cost.per_item_s == pytest.approx(0.001)
    assert model.cost.fixed_s == pytest.approx(0.011)


def test_a_backend_flat_in_n_fits_a_fixed_cost() -> None:
    cost = fitted([(n, 0.020) for n in (1, 2, 4, 8, 16, 32)])
    assert cost.per_item_s == pytest.approx(0.0, abs=1e-12)
    assert cost.fixed_s == pytest.approx(0.020)


def test_a_negative_slope_is_clamped_to_a_flat_cost_at_the_mean() -> None:
    cost = fitted([(1, 0.030), (8, 0.010)])
    assert cost == BatchCost(0.0, pytest.approx(0.020), 2)  # type: ignore[arg-type]


def test_a_negative_intercept_is_clamped_to_a_line_through_the_origin() -> None:
    cost = fitted([(1, 0.0), (2, 0.010), (3, 0.020)])
    assert cost.fixed_s == 0.0
    assert cost.per_item_s == pytest.approx((0.010 * 2 + 0.020 * 3) / (1 + 4 + 9))


def test_the_window_forgets_old_batches_so_the_fit_follows_a_changed_backend() -> None:
    model = BatchCostModel(window=4)
    for n in (1, 2, 3, 4):
        model.record(n, 0.001 * n + 0.050)
    for n in (1, 2, 3, 4):
        model.record(n, 0.003 * n + 0.001)
    assert len(model) == 4
    assert model.cost is not None
    assert model.cost.per_item_s == pytest.approx(0.003)
    assert model.cost.fixed_s == pytest.approx(0.001)


def test_nonsense_samples_are_ignored() -> None:
    model = BatchCostModel()
    for n, d in ((0, 0.01), (2, -1.0), (2, math.nan), (3, math.inf)):
        model.record(n, d)
    assert len(model) == 0
    assert model.cost is None


def test_a_bad_window_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        BatchCostModel(window=1)


@given(
    st.lists(
        st.tuples(st.integers(1, 64), st.floats(0.0, 1.0, allow_nan=False)),
        min_size=1,
        max_size=200,
    ),
    st.integers(2, 16),
)
def test_the_incremental_fit_matches_a_fresh_fit_of_the_window(samples: list[tuple[int, float]], window: int) -> None:
    model = BatchCostModel(window)
    for n, d in samples:
        model.record(n, d)
    kept = samples[-window:]
    assert model.cost is not None
    assert model.cost.per_item_s >= 0
    assert model.cost.fixed_s >= 0
    if len({n for n, _ in kept}) < 2:  # the slope comes from history: the fit still passes through the mean
        mean_n = sum(n for n, _ in kept) / len(kept)
        mean_d = sum(d for _, d in kept) / len(kept)
        assert model.cost.per_item_s * mean_n + model.cost.fixed_s == pytest.approx(mean_d, rel=1e-6, abs=1e-9)
        return
    fresh = fitted(kept, window)
    assert model.cost.per_item_s == pytest.approx(fresh.per_item_s, rel=1e-6, abs=1e-9)
    assert model.cost.fixed_s == pytest.approx(fresh.fixed_s, rel=1e-6, abs=1e-9)


# --- arrivals ------------------------------------------------------------------------------------------


def test_arrival_gaps_are_unknown_until_two_arrivals_then_grow_in_a_quiet_spell() -> None:
    gaps = ArrivalGaps(alpha=0.5)
    gaps.observe(0.0)
    assert gaps.expected(0.0) is None
    gaps.observe(0.010)
    gaps.observe(0.030)
    assert gaps.expected(0.030) == pytest.approx(0.015)
    assert gaps.expected(1.0) == pytest.approx(0.970)


# --- the decision --------------------------------------------------------------------------------------

HEAVY = 0.0005
"""An arrival gap much shorter than the fixed cost below."""
COST = BatchCost(per_item_s=0.001, fixed_s=0.010)


def test_unknown_cost_sends_what_is_queued_and_never_waits() -> None:
    assert decide(0.0, [Item()] * 3, limit=8, cost=None, gap_s=HEAVY) == Decision(3)


def test_light_load_never_waits() -> None:
    # the first request alone, the next one expected long after any saving
    assert decide(0.0, [Item()], limit=32, cost=COST, gap_s=1.0) == Decision(1)
    assert decide(0.0, [Item()], limit=32, cost=COST, gap_s=None) == Decision(1)


def test_under_load_a_partial_batch_waits_for_more_within_the_saving() -> None:
    decision = decide(0.0, [Item()], limit=32, cost=COST, gap_s=HEAVY)
    assert decision.take == 0
    assert decision.wait_until == pytest.approx(COST.fixed_s)


def test_a_full_batch_goes_at_once() -> None:
    assert decide(0.0, [Item()] * 40, limit=32, cost=COST, gap_s=HEAVY) == Decision(32)


def test_max_batch_size_one_takes_one_and_never_waits() -> None:
    assert decide(0.0, [Item()] * 5, limit=1, cost=COST, gap_s=HEAVY) == Decision(1)


def test_a_backend_whose_cost_is_all_per_item_never_waits() -> None:
    per_item = BatchCost(per_item_s=0.002, fixed_s=0.0)
    assert decide(0.0, [Item()] * 2, limit=32, cost=per_item, gap_s=HEAVY) == Decision(2)


def test_a_backend_flat_in_n_waits_under_load_and_fills_batches() -> None:
    flat = BatchCost(per_item_s=0.0, fixed_s=0.020)
    assert decide(0.0, [Item()] * 3, limit=8, cost=flat, gap_s=HEAVY).wait_until == pytest.approx(0.020 / 3)
    assert decide(0.0, [Item()] * 8, limit=8, cost=flat, gap_s=HEAVY) == Decision(8)


def test_the_wait_ends_in_time_for_the_oldest_deadline() -> None:
    decision = decide(0.0, [Item(deadline=0.015)], limit=32, cost=COST, gap_s=HEAVY)
    assert decision.wait_until == pytest.approx(0.015 - COST.of(2))


def test_the_wait_ends_in_time_for_the_latency_objective() -> None:
    decision = decide(0.0, [Item()], limit=32, cost=COST, gap_s=HEAVY, max_latency_s=0.016)
    assert decision.wait_until == pytest.approx(0.016 - COST.of(2))


def test_a_gathering_batch_waits_less_and_stops_waiting_once_the_queued_would_lose_more() -> None:
    assert decide(0.0, [Item()] * 2, limit=32, cost=COST, gap_s=HEAVY).wait_until == pytest.approx(COST.fixed_s / 2)
    # each queued request loses the gap plus one per-item cost (1.5 ms) for the newcomer's 10 ms saving
    assert decide(0.0, [Item()] * 6, limit=32, cost=COST, gap_s=HEAVY).wait_until == pytest.approx(COST.fixed_s / 6)
    assert decide(0.0, [Item()] * 7, limit=32, cost=COST, gap_s=HEAVY) == Decision(7)


def test_no_wait_when_one_more_would_miss_the_bound() -> None:
    assert decide(0.0, [Item(deadline=0.0115)], limit=32, cost=COST, gap_s=HEAVY) == Decision(1)


def test_a_batch_stops_before_the_member_whose_deadline_it_would_miss() -> None:
    items = [Item(), Item(), Item(deadline=0.0125), Item()]
    assert decide(0.0, items, limit=32, cost=COST, gap_s=HEAVY) == Decision(2)


def test_an_objective_already_out_of_reach_does_not_shrink_batches() -> None:
    late = [Item(enqueued_at=-1.0)] * 6  # waited a second already; the 50 ms objective is lost for all
    assert decide(0.0, late, limit=32, cost=COST, gap_s=None, max_latency_s=0.050) == Decision(6)


def test_the_oldest_never_waits_longer_than_a_full_batch_takes() -> None:
    cheap = BatchCost(per_item_s=0.0001, fixed_s=0.010)
    decision = decide(0.0, [Item(enqueued_at=-0.009)], limit=4, cost=cheap, gap_s=HEAVY)
    assert decision.wait_until == pytest.approx(-0.009 + cheap.of(4))


def test_hopeless_means_missing_the_deadline_even_alone() -> None:
    assert hopeless(0.0, 0.010, COST)
    assert not hopeless(0.0, 0.011, COST)
    assert not hopeless(0.0, 0.0, None)  # no fit yet: nothing is judged hopeless


@given(
    now=st.floats(0.0, 10.0),
    ages=st.lists(st.floats(0.0, 0.2), min_size=1, max_size=40),
    slack=st.lists(st.floats(0.0, 0.5), min_size=40, max_size=40),
    limit=st.integers(1, 32),
    per_item=st.floats(0.0, 0.01),
    fixed=st.floats(0.0, 0.05),
    gap=st.none() | st.floats(0.0, 0.1),
    max_latency=st.none() | st.floats(0.001, 0.5),
)
def test_every_decision_respects_the_limit_and_every_members_deadline(
    now: float,
    ages: list[float],
    slack: list[float],
    limit: int,
    per_item: float,
    fixed: float,
    gap: float | None,
    max_latency: float | None,
) -> None:
    cost = BatchCost(per_item, fixed)
    ages.sort(reverse=True)  # oldest first
    items = [Item(now - age, now + cost.of(1) + s) for age, s in zip(ages, slack, strict=False)]  # none hopeless
    decision = decide(now, items, limit=limit, cost=cost, gap_s=gap, max_latency_s=max_latency)
    if decision.wait_until is None:
        assert 1 <= decision.take <= min(limit, len(items))
        assert now + cost.of(decision.take) <= min(i.deadline for i in items[: decision.take]) + 1e-12
    else:
        assert decision.take == 0
        assert gap is not None
        assert len(items) < limit
        assert now < decision.wait_until <= now + fixed
        assert decision.wait_until + cost.of(len(items) + 1) <= min(i.deadline for i in items) + 1e-9


# --- a simulation: Poisson arrivals, replicas with a pipeline of 2, batches costing a·n + b --------------


def simulate(
    rate: float, policy: float | str, *, replicas: int = 1, n: int = 3000, limit: int = 16, seed: int = 1
) -> tuple[float, float, list[int]]:
    """(p50, p99) latency in ms and the batch sizes, for `policy` a fixed wait in seconds or "auto"."""
    import heapq
    import random

    per_item, fixed = 0.001, 0.009
    rng = random.Random(seed)
    events: list[tuple[float, int, int]] = []
    t = 0.0
    for i in range(n):
        t += rng.expovariate(rate)
        events.append((t, 0, i))
    heapq.heapify(events)
    batcher = AdaptiveBatcher() if policy == "auto" else None
    queue: list[Item] = []
    held: list[int] = [0] * replicas
    busy_until = [0.0] * replicas
    latencies: list[float] = []
    sizes: list[int] = []
    armed: float | None = None

    def run(now: float, worker: int, batch: list[Item]) -> None:
        cost = per_item * len(batch) + fixed
        busy_until[worker] = max(now, busy_until[worker]) + cost
        held[worker] += 1
        heapq.heappush(events, (busy_until[worker], 1, worker))
        latencies.extend(busy_until[worker] - item.enqueued_at for item in batch)
        sizes.append(len(batch))
        if batcher is not None:
            batcher.finished(len(batch), cost)

    def dispatch(now: float) -> None:
        nonlocal armed
        while queue:
            idle = [w for w in range(replicas) if not held[w]]
            if idle:
                if batcher is not None:
                    take, until = batcher.choose(now, queue[:limit], limit, workers=replicas, waiting=True)
                else:
                    assert isinstance(policy, float)
                    late = queue[0].enqueued_at + policy
                    take, until = (0, late) if len(queue) < limit and now < late else (min(limit, len(queue)), None)
                if not take:
                    if until is not None and (armed is None or until < armed):
                        armed = until
                        heapq.heappush(events, (until, 2, 0))
                    return
                worker = idle[0]
            elif len(queue) >= limit and min(held) < 2:
                take, worker = limit, held.index(min(held))
            else:
                return
            batch, queue[:] = queue[:take], queue[take:]
            run(now, worker, batch)

    while events:
        now, kind, which = heapq.heappop(events)
        if kind == 0:
            queue.append(Item(now, now + 5.0))
            if batcher is not None:
                batcher.arrived(now)
        elif kind == 1:
            held[which] -= 1
        elif armed is not None and now >= armed:
            armed = None
        dispatch(now)
    latencies.sort()
    return latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000, sizes


def test_simulated_light_load_runs_every_request_alone_and_as_fast_as_unbatched() -> None:
    p50, _, sizes = simulate(30.0, "auto")
    greedy, _, _ = simulate(30.0, 0.0)
    assert sum(s == 1 for s in sizes) / len(sizes) > 0.9
    assert p50 <= greedy * 1.01


def test_simulated_heavy_load_grows_batches() -> None:
    _, _, sizes = simulate(600.0, "auto")
    assert sum(sizes) / len(sizes) > 8
    assert max(sizes) <= 16


@pytest.mark.parametrize(("rate", "replicas"), [(300.0, 1), (550.0, 1), (1000.0, 2), (1200.0, 2)])
def test_simulated_auto_is_close_to_the_best_fixed_wait(rate: float, replicas: int) -> None:
    auto = simulate(rate, "auto", replicas=replicas)
    fixed = [simulate(rate, wait, replicas=replicas) for wait in (0.0, 0.002, 0.010, 0.020)]
    assert auto[0] <= 1.1 * min(f[0] for f in fixed)  # p50
    assert auto[1] <= 1.1 * min(f[1] for f in fixed)  # p99


# --- the queue side: take_planned ----------------------------------------------------------------------


@dataclass
class Queued:
    name: str
    deadline: float = 100.0
    enqueued_at: float = 0.0
    answered: bool = False


def test_take_planned_drops_answered_expired_and_hopeless_then_takes_what_the_plan_says() -> None:
    from actorserve.domain.admission import BatchQueue

    q: BatchQueue[Queued] = BatchQueue(
        max_queue=10, max_batch_size=3, batch_wait_s=0.0, max_concurrency=8, answered=lambda i: i.answered
    )
    items = [
        Queued("a", answered=True),
        Queued("b", deadline=1.0),
        Queued("c", deadline=1.5),
        Queued("d"),
        *map(Queued, "efg"),
    ]
    for item in items:
        q.admit(item, now=0.0)
    seen: list[tuple[list[str], int]] = []

    def plan(live: list[Queued], limit: int) -> tuple[int, float | None]:
        seen.append(([i.name for i in live], limit))
        return 2, None

    take = q.take_planned(1.0, plan, hopeless=lambda i: i.deadline < 2.0)
    assert [i.name for i in take.answered] == ["a"]
    assert [i.name for i in take.expired] == ["b"]
    assert [i.name for i in take.shed] == ["c"]
    assert seen == [(["d", "e", "f"], 3)]
    assert [i.name for i in take.batch] == ["d", "e"]
    assert [i.name for i in q] == ["f", "g"]  # the rest stay queued, in order
    assert q.in_flight == 2
    waiting = q.take_planned(1.0, lambda live, limit: (0, 1.25), hopeless=lambda i: False)
    assert waiting.batch == []
    assert waiting.flush_at == 1.25
    assert [i.name for i in q] == ["f", "g"]


def test_the_batch_the_load_needs_is_where_the_replicas_just_keep_up() -> None:
    from actorserve.domain.batching import needed_batch

    # one arrival every 2 ms, batches of n take 1 ms·n + 10 ms: one replica keeps up at n = 10 / (2 - 1)
    assert needed_batch(0.002, COST, 1, 32) == 10
    assert needed_batch(0.002, COST, 2, 32) == 4  # two replicas share it: ceil(10 / 3)
    assert needed_batch(0.001, COST, 1, 32) == 32  # not even full batches keep up
    assert needed_batch(1.0, COST, 1, 32) == 1


def test_the_objective_never_cuts_a_batch_below_what_the_load_needs() -> None:
    oldest = [Item(enqueued_at=-0.030)] + [Item()] * 11  # the oldest has 20 ms left of a 50 ms objective
    assert decide(0.0, oldest, limit=32, cost=COST, max_latency_s=0.050, gap_s=None) == Decision(10)
    assert decide(0.0, oldest, limit=32, cost=COST, max_latency_s=0.050, gap_s=0.0015) == Decision(12)
