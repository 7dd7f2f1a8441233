"""Control calls from host threads: tell an actor a message that carries a reply, and wait for it, bounded."""

from __future__ import annotations

from typing import Any, TypeVar

import pykka

from actorserve.actors.messages import GetMetrics, Health, ListVersions, Lookup
from actorserve.actors.reply import SyncReply
from actorserve.domain.entities import ModelMetrics, ModelVersion

__all__ = ["ControlPlane", "Found"]

T = TypeVar("T")

Found = tuple[ModelVersion, pykka.ActorRef[Any] | None, ModelMetrics | None]
"""A registered version, its actor (None once it ended) and its final metrics (None while it runs)."""


class ControlPlane:
    """The runtime's control calls (register, unload, report ...), shared with `Experiments`. Thread-safe.

    Args:
        registry: the registry actor.
        call_timeout_s: how long a call waits for its answer.
    """

    def __init__(self, registry: pykka.ActorRef[Any], call_timeout_s: float) -> None:
        self._registry = registry
        self.call_timeout_s = call_timeout_s
        self._stopped = False

    @property
    def stopped(self) -> bool:
        """True once the runtime finished stopping: lookups find nothing."""
        return self._stopped

    def mark_stopped(self) -> None:
        """The actors are gone."""
        self._stopped = True

    def call(self, ref: pykka.ActorRef[Any], message: object, reply: SyncReply[T], what: str) -> T:
        """Tell `ref` the `message` that carries `reply`; return its answer.

        Raises:
            RuntimeError: the actor is gone (the runtime stopped).
            TimeoutError: no answer within `call_timeout_s`.
        """
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            msg = f"{what}: the runtime is stopped"
            raise RuntimeError(msg) from None
        if not reply.wait(self.call_timeout_s):
            msg = f"{what}: no answer within {self.call_timeout_s:g}s"
            raise TimeoutError(msg)
        return reply.value()

    def lookup(self, version_id: str) -> Found | None:
        """The registered version `version_id`, or None (also once stopped)."""
        if self._stopped or not isinstance(version_id, str):
            return None
        reply: SyncReply[Found | None] = SyncReply()
        return self.call(self._registry, Lookup(version_id, reply), reply, "lookup")

    def get_version(self, version_id: str) -> ModelVersion | None:
        """The registered `ModelVersion` (its status is live), or None."""
        found = self.lookup(version_id)
        return None if found is None else found[0]

    def list_versions(self) -> list[ModelVersion]:
        """Every version registered, in registration order (none once stopped)."""
        if self._stopped:
            return []
        reply: SyncReply[list[ModelVersion]] = SyncReply()
        return self.call(self._registry, ListVersions(reply), reply, "list_versions")

    def metrics(self, version_id: str) -> ModelMetrics | None:
        """A snapshot from the version actor, or its final figures once it ended; None if unknown."""
        found = self.lookup(version_id)
        if found is None:
            return None
        _, ref, final = found
        if ref is not None:
            reply: SyncReply[ModelMetrics] = SyncReply()
            try:
                ref.tell(GetMetrics(reply))
                if reply.wait(self.call_timeout_s):
                    return reply.value()
            except pykka.ActorDeadError:
                pass
            found = self.lookup(version_id)  # it ended meanwhile: its final figures are in the registry
            final = found[2] if found else final
        return final if final is not None else ModelMetrics(version_id=version_id)

    def health(self) -> dict[str, object]:
        """The registry's health report (not live, not ready, once stopped)."""
        if self._stopped:
            return {"live": False, "ready": False, "versions": {}}
        reply: SyncReply[dict[str, object]] = SyncReply()
        return self.call(self._registry, Health(reply), reply, "health")
