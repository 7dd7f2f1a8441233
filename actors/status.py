"""The status a caller's `ModelVersion` object shows, written by the registry and the version actor under one lock."""

from __future__ import annotations

import threading

from actorserve.domain.entities import ModelVersion
from actorserve.domain.enums import ModelStatus

__all__ = ["ShownStatus"]

_BEFORE_DRAIN = frozenset({ModelStatus.LOADING, ModelStatus.READY, ModelStatus.SERVING})


class ShownStatus:
    """Writes `version.status`, the field host code reads on the object it registered.

    Upstream set DRAINING inside `unload_model`, and host code checks the
    object right after the call, so the registry marks the version here before
    `unload()` returns (registry thread). The version actor publishes its own
    transitions from its thread; once unloading, a late LOADING or READY from
    it (a load that finished while the drain was on its way) is not shown, so
    the object never steps back from DRAINING.
    """

    __slots__ = ("_lock", "_unloading", "version")

    def __init__(self, version: ModelVersion) -> None:
        self.version = version
        self._lock = threading.Lock()
        self._unloading = False

    def mark_unloading(self) -> None:
        """The version is being unloaded: show DRAINING unless it is already past that."""
        with self._lock:
            self._unloading = True
            if self.version.status in _BEFORE_DRAIN:
                self.version.status = ModelStatus.DRAINING

    def show(self, status: ModelStatus) -> None:
        """Show a transition the version went through (any thread)."""
        with self._lock:
            if self._unloading and status in _BEFORE_DRAIN:
                return
            self.version.status = status
