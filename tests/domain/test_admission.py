from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from actorserve.domain.admission import Admit, BatchQueue
from actorserve.domain.restarts import RestartBudget


@dataclass
class Item:
    name: str
    deadline: float = 100.0
    enqueued_at: float = 0.0
    answered: bool = field(default=False)


def queue(**kw: float) -> BatchQueue[Item]:
    args = {"max_queue": 10, "max_batch_size": 1, "batch_wait_s": 0.0, "max_concurrency": 4, **kw}
    return BatchQueue(answered=lambda item: item.answered, **args)  # type: ignore[arg-type]


def test_admit_refuses_a_full_queue_and_an_expired_request() -> None:
    q = queue(max_queue=2)
    assert q.admit(Item("a"), now=0) is Admit.QUEUED
    assert q.admit(Item("b"), now=0) is Admit.QUEUED
    assert q.admit(Item("c"), now=0) is Admit.FULL
    assert q.admit(Item("d", deadline=1.0), now=1.0) is Admit.EXPIRED
    assert len(q) == 2


def test_take_forms_fifo_batches_up_to_the_size_and_the_concurrency_cap() -> None:
    q = queue(max_batch_size=3, max_concurrency=4)
    for name in "abcdef":
        q.admit(Item(name), now=0)
    assert [i.name for i in q.take(0).batch] == ["a", "b", "c"]
    assert [i.name for i in q.take(0).batch] == ["d"]  # only one slot left under the cap
    assert q.take(0).batch == []
    q.finished(3)
    assert [i.name for i in q.take(0).batch] == ["e", "f"]
    assert q.in_flight == 3


def test_a_partial_batch_waits_until_the_oldest_waited_batch_wait() -> None:
    q = queue(max_batch_size=4, batch_wait_s=0.01)
    q.admit(Item("a", enqueued_at=1.0), now=1.0)
    waiting = q.take(1.005)
    assert waiting.batch == []
    assert waiting.flush_at == 1.01
    assert [i.name for i in q.take(1.01).batch] == ["a"]


def test_a_draining_version_never_waits_for_a_fuller_batch() -> None:
    q = queue(max_batch_size=4, batch_wait_s=10.0)
    q.admit(Item("a"), now=0)
    assert [i.name for i in q.take(0, draining=True).batch] == ["a"]


def test_take_sets_aside_expired_and_already_answered_requests() -> None:
    q = queue(max_batch_size=4)
    q.admit(Item("late", deadline=5.0), now=0)
    q.admit(Item("gone", answered=True), now=0)
    q.admit(Item("ok"), now=0)
    take = q.take(6.0)
    assert [i.name for i in take.expired] == ["late"]
    assert [i.name for i in take.answered] == ["gone"]
    assert [i.name for i in take.batch] == ["ok"]
    assert q.in_flight == 1


def test_expire_removes_only_what_passed_its_deadline() -> None:
    q = queue()
    q.admit(Item("a", deadline=1.0), now=0)
    q.admit(Item("b", deadline=9.0), now=0)
    expired, answered = q.expire(5.0)
    assert [i.name for i in expired] == ["a"]
    assert answered == []
    assert [i.name for i in q] == ["b"]
    assert [i.name for i in q.clear()] == ["b"]
    assert len(q) == 0


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), max_size=60), st.integers(1, 5), st.integers(1, 8))
def test_the_concurrency_cap_and_the_queue_bound_always_hold(ops: list[tuple[bool, int]], batch: int, cap: int) -> None:
    q = queue(max_queue=7, max_batch_size=batch, max_concurrency=cap)
    for i, (is_admit, n) in enumerate(ops):
        if is_admit:
            q.admit(Item(str(i)), now=0)
        else:
            taken = q.take(0)
            assert len(taken.batch) <= batch
            q.finished(min(n, q.in_flight))
        assert 0 <= q.in_flight <= cap
        assert len(q) <= 7


def test_restart_budget_doubles_the_delay_then_runs_out() -> None:
    budget = RestartBudget(max_restarts=3, window_s=10.0, backoff_s=0.1)
    assert [budget.record(t) for t in (0.0, 1.0, 2.0)] == [0.1, 0.2, 0.4]
    assert budget.record(3.0) is None
    assert budget.failures == 4


def test_restart_budget_forgets_failures_outside_the_window() -> None:
    budget = RestartBudget(max_restarts=1, window_s=5.0, backoff_s=1.0)
    assert budget.record(0.0) == 1.0
    assert budget.record(6.0) == 1.0
    assert budget.record(7.0) is None
