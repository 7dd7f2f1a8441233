"""Experiments in the state store: each start's arguments as a record, joined by id, forgotten on stop.

A record is `{"record": 1, "kind", "args", "epoch"}` under document kind
`experiment`, keyed by the experiment id. `args` are the keyword arguments of
the `start_*` call as JSON, so a restore (or another process) starts it
through the very same call and its checks. `epoch` names this run of the
experiment (`run-<runs stopped before it>`): its statistics are counted
under it, so processes that start it at the same moment count together, and
an experiment stopped and later started again under the same id begins from
zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from actorserve.actors.durable import Durability
from actorserve.actors.experiments.shared import StatsSync
from actorserve.actors.messages import Write
from actorserve.domain.errors import ConfigError
from actorserve.domain.state import Document

__all__ = ["EXPERIMENT", "STARTERS", "ExperimentRecords", "json_args"]

EXPERIMENT = "experiment"
"""Document kind of experiment records (key: the experiment id)."""

RUNS = "experiment_runs"
"""Counter kind: how many runs of an experiment id were stopped (its next run's epoch)."""

STARTERS = {
    "ab_test": "start_ab_test",
    "shadow": "start_shadow",
    "ensemble": "create_ensemble",
    "canary": "start_canary",
}
"""The `Experiments` method that starts each kind (a restore calls it with the stored arguments)."""

_RECORD = 1


def json_args(args: Mapping[str, object]) -> dict[str, object]:
    """`args` as JSON keeps them (tuples as lists, mappings as objects), or ConfigError naming the argument."""
    out: dict[str, object] = {}
    for name, value in args.items():
        try:
            out[name] = json.loads(json.dumps(value, allow_nan=False, default=_plain))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{name}: cannot be stored ({exc})", field=name) from None
    return out


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | list | set | frozenset):
        return list(value)
    msg = f"{type(value).__name__} is not JSON"
    raise TypeError(msg)


def differing_argument(stored: Mapping[str, object], given: Mapping[str, object]) -> str | None:
    """The first argument (by name) whose value differs between two starts, or None."""
    for name in sorted(set(stored) | set(given)):
        if stored.get(name) != given.get(name):
            return name
    return None


class ExperimentRecords:
    """The experiments' side of the runtime's `Durability` (no-ops without a store)."""

    def __init__(self, state: Durability) -> None:
        self._state = state

    @property
    def durable(self) -> bool:
        """True when a store keeps the experiments."""
        return self._state.durable

    def claim(self, kind: str, experiment_id: str, args: Mapping[str, object]) -> tuple[str | None, bool]:
        """The epoch to run `experiment_id` under, and whether a record of it exists already.

        A stored record of the same kind and arguments is joined (its epoch);
        one that differs is refused.

        Raises:
            ConfigError: the stored experiment is of another kind, or was started with other arguments (named).
            StateError: the store cannot be read.
        """
        if not self._state.durable or self._state.store is None:
            return None, False
        stored = self._state.store.get_document(EXPERIMENT, experiment_id)
        if stored is None:
            # Every process that starts it before anyone stops it must count under one epoch: the number
            # of runs stopped so far is the one thing they all read alike (a stop adds one, atomically).
            runs = self._state.store.read_counters(RUNS, experiment_id).get("stopped", 0)
            return f"run-{int(runs)}", False
        if stored.get("kind") != kind:
            msg = f"id: {experiment_id!r} is a stored {stored.get('kind')} experiment, not a {kind}"
            raise ConfigError(msg, field="id")
        stored_args = stored.get("args")
        name = differing_argument(stored_args if isinstance(stored_args, dict) else {}, args)
        if name is not None:
            shown = stored_args.get(name) if isinstance(stored_args, dict) else None
            msg = (
                f"{name}: experiment {experiment_id!r} is stored with {name}={shown!r}, not {args.get(name)!r} "
                "(stop it first to start it anew)"
            )
            raise ConfigError(msg, field=name)
        epoch = stored.get("epoch")
        return (epoch if isinstance(epoch, str) else "run-0"), True

    def stats_sync(self, experiment_id: str, epoch: str | None) -> StatsSync | None:
        """How an A/B test shares its statistics through the store (None without one)."""
        actor, store = self._state.actor, self._state.store
        if actor is None or store is None or epoch is None:
            return None
        prefix = f"{experiment_id}/{epoch}"
        return StatsSync(actor, store, self._state.scheduler, self._state.flush_interval_s, prefix)

    def keep(self, kind: str, experiment_id: str, args: Mapping[str, object], epoch: str | None) -> None:
        """Make the start durable (before the call returns).

        Raises:
            StateError: the store refused it.
        """
        record: Document = {"record": _RECORD, "kind": kind, "args": dict(args), "epoch": epoch}
        self._state.persist(Write(EXPERIMENT, experiment_id, record), what=f"start {experiment_id}")

    def forget(self, experiment_id: str) -> None:
        """A tombstone: a stopped experiment is not restored.

        Raises:
            StateError: the store refused it.
        """
        self._state.persist(
            Write(EXPERIMENT, experiment_id, None),
            what=f"stop {experiment_id}",
            counts={(RUNS, experiment_id): {"stopped": 1}},
        )

    def stored(self) -> list[tuple[str, str, dict[str, object]]]:
        """Every live record: (id, kind, arguments), for the restore."""
        out = []
        for entry in self._state.records(EXPERIMENT):
            doc = entry.doc
            if doc is None:
                continue
            kind, args = doc.get("kind"), doc.get("args")
            if doc.get("record") != _RECORD or kind not in STARTERS or not isinstance(args, dict):
                self._state.skip(f"experiment {entry.key}", f"not a record this release reads: {doc!r:.200}")
                continue
            out.append((entry.key, str(kind), args))
        return out

    def skip(self, experiment_id: str, reason: str) -> None:
        """An experiment the restore could not start again."""
        self._state.skip(f"experiment {experiment_id}", reason)
