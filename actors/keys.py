"""Keys are values: a version generation and a replica generation, compared in one place."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReplicaKey", "VersionKey"]


@dataclass(frozen=True, slots=True)
class VersionKey:
    """One generation of a version: a restart after a crash starts the next one."""

    version_id: str
    generation: int

    def __str__(self) -> str:
        return f"{self.version_id}@{self.generation}"

    def next(self) -> VersionKey:
        """The generation a restart starts."""
        return VersionKey(self.version_id, self.generation + 1)

    def supersedes(self, other: VersionKey) -> bool:
        """Whether this is a later generation of the same version than `other`."""
        return self.version_id == other.version_id and self.generation > other.generation


@dataclass(frozen=True, slots=True)
class ReplicaKey:
    """One worker of one replica slot: a slot's generation grows each time its worker is (re)started.

    Events carry the key of the worker that sent them, so a message from a
    replaced worker is recognised by comparing keys (`is` first: the worker
    holds the very object the version made).
    """

    version: VersionKey
    index: int
    generation: int

    def __str__(self) -> str:
        return f"{self.version}/replica-{self.index}@{self.generation}"
