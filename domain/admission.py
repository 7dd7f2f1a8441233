"""Admission and batching rules of one version, as pure data structures.

The version actor owns one `BatchQueue` and asks it, with the current time,
what to do: admit or refuse, which requests form the next batch, which ones
expired, when a partial batch should be flushed. No threads, no clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, Protocol, TypeVar

__all__ = ["Admit", "BatchQueue", "Queued", "Take"]


class Queued(Protocol):
    """What the queue needs to know about a request."""

    @property
    def deadline(self) -> float:
        """Monotonic seconds after which the request is answered TIMEOUT."""
        ...

    @property
    def enqueued_at(self) -> float:
        """Monotonic seconds when it was admitted."""
        ...


Q = TypeVar("Q", bound=Queued)


class Admit(Enum):
    """The answer to `BatchQueue.admit`."""

    QUEUED = "queued"
    """Admitted; it waits for a worker."""
    FULL = "full"
    """Refused: `max_queue` requests are already waiting (OVERLOADED)."""
    EXPIRED = "expired"
    """Refused: its deadline already passed (TIMEOUT)."""


@dataclass(slots=True)
class Take(Generic[Q]):
    """What one idle worker should do now."""

    batch: list[Q] = field(default_factory=list)
    """Requests to run together (empty: nothing to run now)."""
    expired: list[Q] = field(default_factory=list)
    """Requests whose deadline passed while queued: answer TIMEOUT, never start."""
    answered: list[Q] = field(default_factory=list)
    """Requests someone else already answered (caller timeout, cancellation): drop."""
    flush_at: float | None = None
    """Set when a partial batch should wait for more requests until this time."""
    shed: list[Q] = field(default_factory=list)
    """Requests that cannot meet their deadline even run alone (`take_planned`): answer TIMEOUT now."""


class BatchQueue(Generic[Q]):
    """A bounded FIFO that forms batches under a concurrency cap.

    Args:
        max_queue: most requests waiting.
        max_batch_size: most requests in one batch.
        batch_wait_s: how long the oldest request may wait for a fuller batch.
        max_concurrency: most requests executing at once.
        answered: tells whether a request was already answered elsewhere.
    """

    def __init__(
        self,
        *,
        max_queue: int,
        max_batch_size: int,
        batch_wait_s: float,
        max_concurrency: int,
        answered: Callable[[Q], bool],
    ) -> None:
        self.items: deque[Q] = deque()
        """The waiting requests, oldest first (read-only outside this class, except `pop_ready`)."""
        self._max_queue = max_queue
        self._max_batch = max_batch_size
        self._batch_wait_s = batch_wait_s
        self._cap = max_concurrency
        self._answered = answered
        self.in_flight = 0
        """Requests handed to workers and not finished yet."""

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Q]:
        return iter(self.items)

    def admit(self, item: Q, now: float) -> Admit:
        """Queue `item` unless it already expired or the queue is full."""
        if now >= item.deadline:
            return Admit.EXPIRED
        if len(self.items) >= self._max_queue:
            return Admit.FULL
        self.items.append(item)
        return Admit.QUEUED

    @property
    def full_batch_waiting(self) -> bool:
        """True when a whole batch is queued (and the cap allows one more)."""
        return len(self.items) >= self._max_batch and self._cap - self.in_flight >= self._max_batch

    def take(self, now: float, *, draining: bool = False) -> Take[Q]:
        """The next batch for one worker.

        A partial batch waits (`flush_at`) while the oldest request has waited
        less than `batch_wait_s`, unless the version is draining.
        """
        result: Take[Q] = Take()
        limit = min(self._max_batch, self._cap - self.in_flight)
        items = self.items
        if limit <= 0 or not items:
            return result
        if limit > 1 and len(items) < limit and self._batch_wait_s > 0 and not draining:
            flush_at = items[0].enqueued_at + self._batch_wait_s
            if now < flush_at:
                result.flush_at = flush_at
                return result
        while items and len(result.batch) < limit:
            item = items.popleft()
            if self._answered(item):
                result.answered.append(item)
            elif now >= item.deadline:
                result.expired.append(item)
            else:
                result.batch.append(item)
        self.in_flight += len(result.batch)
        return result

    def take_planned(
        self,
        now: float,
        plan: Callable[[list[Q], int], tuple[int, float | None]],
        hopeless: Callable[[Q], bool],
    ) -> Take[Q]:
        """The next batch for one worker, sized by `plan` (adaptive batching).

        Pops the answered, the expired and the `hopeless` from the front while
        gathering up to one batch of live requests, then asks
        `plan(live, limit)` for `(take, wait_until)`: the first `take` go, the
        rest stay queued in order; `wait_until` becomes `flush_at`.
        """
        result: Take[Q] = Take()
        limit = min(self._max_batch, self._cap - self.in_flight)
        items = self.items
        if limit <= 0 or not items:
            return result
        live: list[Q] = []
        while items and len(live) < limit:
            item = items.popleft()
            if self._answered(item):
                result.answered.append(item)
            elif now >= item.deadline:
                result.expired.append(item)
            elif hopeless(item):
                result.shed.append(item)
            else:
                live.append(item)
        take, result.flush_at = plan(live, limit) if live else (0, None)
        take = max(0, min(take, len(live)))
        if take < len(live):
            items.extendleft(reversed(live[take:]))
        result.batch = live[:take]
        self.in_flight += take
        return result

    def pop_ready(self, now: float) -> tuple[Q | None, list[Q], list[Q]]:
        """Unbatched dispatch: the oldest live request (None if none), counted in flight.

        Also returns the expired and the answered-elsewhere requests met on the way.
        """
        expired: list[Q] = []
        answered: list[Q] = []
        items = self.items
        while items:
            item = items.popleft()
            if self._answered(item):
                answered.append(item)
            elif now >= item.deadline:
                expired.append(item)
            else:
                self.in_flight += 1
                return item, expired, answered
        return None, expired, answered

    @property
    def has_room(self) -> bool:
        """True while the concurrency cap allows one more request in flight."""
        return self.in_flight < self._cap

    def finished(self, count: int) -> None:
        """`count` requests handed out by `take` are no longer executing."""
        self.in_flight -= count

    def expire(self, now: float) -> tuple[list[Q], list[Q]]:
        """Remove and return (expired, answered-elsewhere) requests from the queue."""
        expired: list[Q] = []
        answered: list[Q] = []
        kept: deque[Q] = deque()
        for item in self.items:
            if self._answered(item):
                answered.append(item)
            elif now >= item.deadline:
                expired.append(item)
            else:
                kept.append(item)
        self.items = kept
        return expired, answered

    def clear(self) -> list[Q]:
        """Remove and return everything waiting."""
        items = list(self.items)
        self.items.clear()
        return items
