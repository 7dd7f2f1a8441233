"""The actor base class every actorserve actor derives from, with its one message dispatcher."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pykka

if TYPE_CHECKING:
    from pykka._actor import ActorInbox

__all__ = ["ServingActor", "UnexpectedMessageError", "describe_exception", "handles"]

F = TypeVar("F", bound=Callable[..., None])

_HANDLES = "_actorserve_handles"


class UnexpectedMessageError(TypeError):
    """An actor received a message type it has no handler for (a bug: the actor crashes)."""


def handles(*message_types: type) -> Callable[[F], F]:
    """Mark a method as the handler of `message_types` (read by `ServingActor`'s dispatcher)."""

    def mark(method: F) -> F:
        setattr(method, _HANDLES, (*getattr(method, _HANDLES, ()), *message_types))
        return method

    return mark


def describe_exception(exc: BaseException) -> str:
    """`Type: message`, the one-line form kept on versions and in responses."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a backend's exception with a broken __str__ is still described
        text = "<unprintable>"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ServingActor(pykka.ThreadingActor):
    """A Pykka threading actor with a `queue.SimpleQueue` inbox and a handler table.

    Pykka's default inbox is a `queue.Queue`, whose every put and get goes
    through a Python-level Condition. The C-implemented SimpleQueue does the
    same job (unbounded FIFO, blocking get) at a fraction of the cost, and
    that cost is paid four times per request on the hot path. Pykka builds
    the inbox through `_create_actor_inbox`, the hook its own runtimes use.

    Subclasses mark their handlers with `@handles(MessageType)`; the table is
    built once per class, and a message type without a handler is a bug that
    crashes the actor (`UnexpectedMessageError`).

    Actor threads are daemon threads, so a host program that ends (or
    crashes) without calling `stop()` still exits; every runtime still
    running is stopped, drained, from an `atexit` hook (`actors.runtime`).
    """

    use_daemon_thread = True

    _handler_table: ClassVar[dict[type, Callable[[Any, Any], None]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                for message_type in getattr(value, _HANDLES, ()):
                    names[message_type] = name
        # by name, so a subclass that overrides a handler (decorated or not) is the one called
        cls._handler_table = {message_type: getattr(cls, name) for message_type, name in names.items()}

    @staticmethod
    def _create_actor_inbox() -> ActorInbox:
        inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        return inbox

    def on_receive(self, message: Any) -> None:
        """Dispatch by message type (the actor's own thread)."""
        handler = self._handler_table.get(type(message))
        if handler is None:
            msg = f"{type(self).__name__} cannot handle {type(message).__name__}"
            raise UnexpectedMessageError(msg)
        handler(self, message)
