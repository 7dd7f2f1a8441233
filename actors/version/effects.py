"""What a `VersionCore` call decided, for the shell to carry out: a frozen `Effects` value and its parts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from actorserve.actors.keys import ReplicaKey
from actorserve.actors.messages import Work
from actorserve.domain.enums import ErrorCode, ModelStatus
from actorserve.domain.health import ProbeSummary
from actorserve.domain.lifecycle import LifecycleEvent

__all__ = [
    "DEADLINE",
    "DRAIN",
    "FLUSH",
    "NOTHING",
    "PROBE",
    "Answer",
    "Effects",
    "Outbox",
    "Transition",
    "replica_timer",
]

DEADLINE, FLUSH, DRAIN, PROBE = "deadline", "flush", "drain", "probe"
"""Timer slot names; a replica's restart or load retry uses `replica_timer(index)`."""


def replica_timer(index: int) -> str:
    """The timer slot that starts replica `index` again."""
    return f"replica-{index}"


class Answer(NamedTuple):
    """Answer `works` with a failure (each unless already answered), and count them."""

    works: tuple[Work, ...]
    code: ErrorCode
    error: str
    count_answered: bool = False
    """Also count the ones already answered elsewhere (nobody else will: they never reached a worker)."""
    rejected: bool = False
    """Refused at admission (logged at most once a second, with a count)."""


class Transition(NamedTuple):
    """The version moved from `old` to `new` on `event`."""

    old: ModelStatus
    new: ModelStatus
    event: LifecycleEvent
    error: str | None


class Effects(NamedTuple):
    """What the shell must do after one call, in this order.

    A NamedTuple, not a frozen dataclass: one is built per message on the
    hot path, and a frozen dataclass's `__init__` costs several times more.
    """

    answers: tuple[Answer, ...] = ()
    counted: tuple[Work, ...] = ()
    """Answered elsewhere (the caller's deadline or cancellation): count those answers."""
    stop: tuple[ReplicaKey, ...] = ()
    start: tuple[ReplicaKey, ...] = ()
    send: tuple[tuple[int, tuple[Work, ...]], ...] = ()
    """(slot index, batch) to hand to that slot's worker."""
    probe: tuple[ReplicaKey, ...] = ()
    timers: tuple[tuple[str, float | None], ...] = ()
    """(slot name, monotonic due time, or None to cancel)."""
    transitions: tuple[Transition, ...] = ()
    report: ProbeSummary | None = None
    """A changed health summary for the registry."""
    warnings: tuple[str, ...] = ()
    """Lines for the log, at WARNING."""
    finished: bool = False
    """The version is done: cancel its timers, tell the registry and stop the actor."""
    sends_only: bool = False
    """Set by the hot paths when `send` is all there is, so the shell skips the rest."""

    @classmethod
    def sending(cls, send: tuple[tuple[int, tuple[Work, ...]], ...]) -> Effects:
        """Effects that only hand out batches (built without the keyword machinery: the hot path)."""
        return tuple.__new__(cls, ((), (), (), (), send, (), (), (), None, (), False, True))


NOTHING = Effects()


class Outbox:
    """Effects being gathered by one core call (its scratch pad); `freeze()` makes the value."""

    __slots__ = (
        "answers",
        "counted",
        "finished",
        "probe",
        "report",
        "send",
        "start",
        "stop",
        "timers",
        "transitions",
        "warnings",
    )

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.counted: list[Work] = []
        self.stop: list[ReplicaKey] = []
        self.start: list[ReplicaKey] = []
        self.send: list[tuple[int, tuple[Work, ...]]] = []
        self.probe: list[ReplicaKey] = []
        self.timers: list[tuple[str, float | None]] = []
        self.transitions: list[Transition] = []
        self.report: ProbeSummary | None = None
        self.warnings: list[str] = []
        self.finished = False

    def fail(self, works: Iterable[Work], code: ErrorCode, error: str, *, count_answered: bool = False) -> None:
        """Answer `works` with a failure (skipped when empty)."""
        batch = tuple(works)
        if batch:
            self.answers.append(Answer(batch, code, error, count_answered))

    def freeze(self) -> Effects:
        """The gathered effects as one frozen value."""
        return Effects(
            tuple(self.answers),
            tuple(self.counted),
            tuple(self.stop),
            tuple(self.start),
            tuple(self.send),
            tuple(self.probe),
            tuple(self.timers),
            tuple(self.transitions),
            self.report,
            tuple(self.warnings),
            self.finished,
        )
