"""Dispatcher: hands a version's queued requests to free replica slots, batched or one by one.

Part of the pure version core: it reads no clock (every call takes `now`)
and writes what it decided into an `Outbox`, or returns `Effects` on the
unbatched path that every request takes under load.
"""

from __future__ import annotations

from actorserve.actors.messages import Work
from actorserve.actors.version.effects import FLUSH, NOTHING, Answer, Effects, Outbox
from actorserve.actors.version.slots import ReplicaSlots
from actorserve.domain.admission import BatchQueue
from actorserve.domain.enums import ErrorCode

__all__ = ["Dispatcher"]

TimerSets = tuple[tuple[str, float | None], ...]


class Dispatcher:
    """Which queued requests go to which replica now, and when to look again (the FLUSH timer).

    Args:
        queue: the version's queue (admission is the core's; taking from it is ours).
        slots: the version's replica slots.
        max_batch_size: 1 takes the unbatched path.
    """

    def __init__(self, queue: BatchQueue[Work], slots: ReplicaSlots, max_batch_size: int) -> None:
        self._queue = queue
        self._slots = slots
        self.unbatched = max_batch_size == 1
        self._flush_armed = False

    def flushed(self) -> None:
        """The FLUSH timer fired: the next partial batch may arm it again."""
        self._flush_armed = False

    def dispatch(self, out: Outbox, now: float, *, draining: bool) -> None:
        """Hand out every batch that is due; arm FLUSH for the first one that is still gathering."""
        queue, slots = self._queue, self._slots
        if not queue.items:
            return
        if self.unbatched:
            self._dispatch_unbatched(out, now)
            return
        while queue.items:
            if slots.idle:
                take = queue.take(now, draining=draining)
            elif queue.full_batch_waiting and slots.can_pipeline:
                take = queue.take(now, draining=True)  # a full batch never waits
            else:
                return
            out.counted.extend(take.answered)
            out.fail(take.expired, ErrorCode.TIMEOUT, "Deadline passed while queued")
            if take.flush_at is not None:
                if not self._flush_armed:
                    self._flush_armed = True
                    out.timers.append((FLUSH, take.flush_at))
                return
            if not take.batch:
                if take.expired or take.answered:
                    continue
                return
            out.send.append((slots.assign(take.batch), tuple(take.batch)))

    def next_unbatched(self, now: float, timers: TimerSets = ()) -> Effects:
        """`dispatch` for `max_batch_size == 1` without gathering an Outbox: the path of every request under load."""
        queue, slots = self._queue, self._slots
        sends: list[tuple[int, tuple[Work, ...]]] = []
        counted: list[Work] = []
        expired: list[Work] = []
        while queue.items and queue.has_room and (slots.idle or slots.can_pipeline):
            work, late, answered = queue.pop_ready(now)
            if answered:
                counted.extend(answered)
            if late:
                expired.extend(late)
            if work is None:
                break
            sends.append((slots.assign([work]), (work,)))
        if not counted and not expired and not timers:
            return Effects.sending(tuple(sends)) if sends else NOTHING
        answers = (Answer(tuple(expired), ErrorCode.TIMEOUT, "Deadline passed while queued"),) if expired else ()
        return Effects(answers=answers, counted=tuple(counted), send=tuple(sends), timers=timers)

    def _dispatch_unbatched(self, out: Outbox, now: float) -> None:
        queue, slots = self._queue, self._slots
        while queue.items and queue.has_room and (slots.idle or slots.can_pipeline):
            work, expired, answered = queue.pop_ready(now)
            out.counted.extend(answered)
            out.fail(expired, ErrorCode.TIMEOUT, "Deadline passed while queued")
            if work is None:
                return
            out.send.append((slots.assign([work]), (work,)))
