"""Dispatcher: hands a version's queued requests to free replica slots, batched or one by one.

Part of the pure version core: it reads no clock (every call takes `now`)
and writes what it decided into an `Outbox`, or returns `Effects` on the
unbatched path that every request takes under load.
"""

from __future__ import annotations

from actorserve.actors.messages import Work
from actorserve.actors.version.effects import FLUSH, NOTHING, Answer, Effects, Outbox
from actorserve.actors.version.slots import ReplicaSlots
from actorserve.domain.admission import BatchQueue, Take
from actorserve.domain.batching import AdaptiveBatcher, BatchCost
from actorserve.domain.enums import ErrorCode

__all__ = ["WOULD_MISS", "Dispatcher"]

WOULD_MISS = "Request would miss its deadline even if run alone"
"""The TIMEOUT answer of adaptive batching to a request it will not run late."""

TimerSets = tuple[tuple[str, float | None], ...]


class Dispatcher:
    """Which queued requests go to which replica now, and when to look again (the FLUSH timer).

    Args:
        queue: the version's queue (admission is the core's; taking from it is ours).
        slots: the version's replica slots.
        max_batch_size: 1 takes the unbatched path (unless batching is adaptive).
        batcher: the adaptive-batching policy (`batch_wait_ms = "auto"`), or None for a fixed wait.
    """

    def __init__(
        self,
        queue: BatchQueue[Work],
        slots: ReplicaSlots,
        max_batch_size: int,
        batcher: AdaptiveBatcher | None = None,
    ) -> None:
        self._queue = queue
        self._slots = slots
        self._batcher = batcher
        self.unbatched = max_batch_size == 1 and batcher is None
        self._flush_at: float | None = None

    def flushed(self) -> None:
        """The FLUSH timer fired: the next partial batch may arm it again."""
        self._flush_at = None

    # --- adaptive batching ---------------------------------------------------

    @property
    def batch_cost(self) -> BatchCost | None:
        """The fitted batch cost (adaptive batching only, once enough batches ran)."""
        return self._batcher.cost if self._batcher is not None else None

    def refusal(self, now: float, work: Work) -> str | None:
        """Adaptive batching sees a request arrive: the TIMEOUT error if it cannot meet its deadline even alone."""
        batcher = self._batcher
        if batcher is None:
            return None
        batcher.arrived(now)
        return WOULD_MISS if batcher.hopeless(now, work.deadline) else None

    def measured(self, size: int, duration_s: float) -> None:
        """A worker ran a batch of `size` in `duration_s`: refit the cost (adaptive batching only)."""
        if self._batcher is not None and size > 0:
            self._batcher.finished(size, duration_s)

    def _take(self, now: float, *, draining: bool) -> Take[Work]:
        batcher = self._batcher
        if batcher is None:
            return self._queue.take(now, draining=draining)
        waiting, workers = not draining, max(self._slots.loaded_count, 1)
        return self._queue.take_planned(
            now,
            lambda live, limit: batcher.choose(now, live, limit, workers=workers, waiting=waiting),
            lambda w: batcher.hopeless(now, w.deadline),
        )

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
                take = self._take(now, draining=draining)
            elif queue.full_batch_waiting and slots.can_pipeline:
                take = self._take(now, draining=True)  # a full batch never waits
            else:
                return
            out.counted.extend(take.answered)
            out.fail(take.expired, ErrorCode.TIMEOUT, "Deadline passed while queued")
            out.fail(take.shed, ErrorCode.TIMEOUT, WOULD_MISS)
            if take.flush_at is not None:
                # adaptive waits may shorten (a tighter deadline arrived): an earlier one replaces the armed one
                if self._flush_at is None or take.flush_at < self._flush_at:
                    self._flush_at = take.flush_at
                    out.timers.append((FLUSH, take.flush_at))
                return
            if not take.batch:
                if take.expired or take.answered or take.shed:
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
