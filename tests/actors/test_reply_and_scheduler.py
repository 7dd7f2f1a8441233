from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pykka

from actorserve.actors.clock import SystemClock
from actorserve.actors.keys import VersionKey
from actorserve.actors.messages import Route, StatusChanged, VersionAdded
from actorserve.actors.reply import AsyncReply, SyncReply
from actorserve.actors.router import RouterActor
from actorserve.actors.scheduler import Scheduler
from actorserve.actors.tracking import ThreadTracker
from actorserve.domain import ErrorCode, ModelRequest, ModelResponse, ModelStatus
from tests.fakes import make_version


def test_the_first_answer_wins_and_later_ones_are_dropped() -> None:
    reply: SyncReply[int] = SyncReply()
    assert not reply.done
    assert reply.set(1) is True
    assert reply.set(2) is False
    assert reply.wait(0) is True
    assert reply.wait(0) is True  # waiting again returns at once
    assert reply.value() == 1


def test_only_one_of_many_racing_setters_wins() -> None:
    for _ in range(200):
        reply: SyncReply[int] = SyncReply()
        wins: list[bool] = []
        barrier = threading.Barrier(4)

        def racer(
            value: int, reply: SyncReply[int] = reply, barrier: threading.Barrier = barrier, wins: list[bool] = wins
        ) -> None:
            barrier.wait()
            wins.append(reply.set(value))

        threads = [threading.Thread(target=racer, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wins.count(True) == 1


def test_a_claimed_reply_wakes_its_waiter_only_on_publish() -> None:
    reply: SyncReply[str] = SyncReply()
    assert reply.claim("x")
    assert reply.done
    assert reply.set("y") is False
    assert reply.wait(0.01) is False
    reply.publish()
    assert reply.wait(1)
    assert reply.value() == "x"


def test_wait_times_out_false() -> None:
    assert SyncReply().wait(0.01) is False


def test_async_reply_resolves_the_future_from_another_thread() -> None:
    async def main() -> str:
        reply: AsyncReply[str] = AsyncReply(asyncio.get_running_loop())
        threading.Thread(target=reply.set, args=("done",)).start()
        return await asyncio.wait_for(reply.future, 5)

    assert asyncio.run(main()) == "done"


def test_async_reply_on_a_closed_loop_is_harmless() -> None:
    loop = asyncio.new_event_loop()
    reply: AsyncReply[int] = AsyncReply(loop)
    loop.close()
    assert reply.set(1) is True


def test_scheduler_runs_callbacks_in_due_order_and_skips_cancelled() -> None:
    scheduler = Scheduler(SystemClock())
    order: list[str] = []
    done = threading.Event()

    def late() -> None:
        order.append("late")
        done.set()

    scheduler.call_later(0.03, late)
    cancelled = scheduler.call_later(0.01, lambda: order.append("cancelled"))
    scheduler.call_later(0.0, lambda: order.append("now"))
    cancelled.cancel()
    assert done.wait(5)
    scheduler.stop()
    assert order == ["now", "late"]
    assert not scheduler.thread.is_alive()


def test_a_failing_callback_does_not_kill_the_timer_thread() -> None:
    scheduler = Scheduler(SystemClock())
    done = threading.Event()
    scheduler.call_later(0.0, lambda: 1 / 0)
    scheduler.call_later(0.01, done.set)
    assert done.wait(5)
    scheduler.stop()


def test_a_stopped_scheduler_drops_new_timers() -> None:
    scheduler = Scheduler(SystemClock())
    scheduler.stop()
    handle = scheduler.call_later(0.0, lambda: None)
    assert handle.callback is None


def test_a_route_that_meets_a_stopped_version_is_answered_unavailable_at_once() -> None:
    clock = SystemClock()
    router = RouterActor.start(clock=clock, tracker=ThreadTracker())

    class Dead(pykka.ThreadingActor):
        pass

    dead = Dead.start()
    dead.stop()
    version = make_version()
    router.tell(VersionAdded(version, VersionKey("v1", 1), dead))
    router.tell(StatusChanged(VersionKey("v1", 1), ModelStatus.READY))
    reply: SyncReply[ModelResponse] = SyncReply()
    request = ModelRequest("r1", "chat", "", {}, timestamp=datetime.now(UTC))
    router.tell(Route(request, reply, clock.monotonic(), None))
    assert reply.wait(5)
    assert reply.value().error_code is ErrorCode.UNAVAILABLE
    router.stop()


def test_the_router_ignores_stale_generations() -> None:
    clock = SystemClock()
    router = RouterActor.start(clock=clock, tracker=ThreadTracker())

    class Sink(pykka.ThreadingActor):
        def on_receive(self, message: object) -> None:
            message.reply.set(ModelResponse(message.request.request_id, "chat", "v1", "ok", 1.0))  # type: ignore[attr-defined]

    target = Sink.start()
    router.tell(VersionAdded(make_version(), VersionKey("v1", 2), target))
    router.tell(StatusChanged(VersionKey("v1", 1), ModelStatus.READY))  # an older generation's news
    reply: SyncReply[ModelResponse] = SyncReply()
    router.tell(Route(ModelRequest("r1", "chat", "", {}), reply, clock.monotonic(), None))
    assert reply.wait(5)
    assert reply.value().error_code is ErrorCode.NOT_READY
    router.tell(StatusChanged(VersionKey("v1", 2), ModelStatus.READY))
    reply2: SyncReply[ModelResponse] = SyncReply()
    router.tell(Route(ModelRequest("r2", "chat", "", {}), reply2, clock.monotonic(), None))
    assert reply2.wait(5)
    assert reply2.value().success
    router.stop()
    target.stop()
