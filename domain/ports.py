"""Ports: every side effect the core needs goes through one of these Protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeAlias, runtime_checkable

from actorserve.domain.entities import JSONValue, ModelRequest, ModelVersion
from actorserve.domain.enums import ErrorCode, ModelStatus
from actorserve.domain.metrics import Outcome
from actorserve.domain.state import CounterBatch, Counters, Document, DocumentEntry, StoredDocument

__all__ = [
    "BatchMetricsSink",
    "Clock",
    "CostCalculator",
    "InvocationResult",
    "MetricsExporter",
    "MetricsSink",
    "ModelHandle",
    "ModelInvoker",
    "NetworkServer",
    "RandomSource",
    "StateStore",
    "StateStoreFactory",
    "ValidatingInvoker",
]

ModelHandle: TypeAlias = object
"""Whatever an invoker's `load` returns: one loaded model instance (one per replica)."""


@dataclass(frozen=True, slots=True)
class InvocationResult:
    """What an invoker returns for one request.

    A failed result sets `error` (a sentence) and `error_code`; the worker turns
    it into a failed `ModelResponse`.
    """

    output: JSONValue = None
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None
    error_code: ErrorCode | None = None

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.error is None


class ModelInvoker(Protocol):
    """A model backend. Worker actors call it from their own thread.

    One invoker object serves every version using it; per-replica state lives
    in the handle that `load` returns. Calls may block (that is what workers
    are for) but must honour `timeout_s` where they can.
    """

    def load(self, version: ModelVersion) -> ModelHandle:
        """Load one instance of `version`; raise on failure."""
        ...

    def invoke(self, handle: ModelHandle, request: ModelRequest, timeout_s: float) -> InvocationResult:
        """Run one request."""
        ...

    def invoke_batch(
        self,
        handle: ModelHandle,
        requests: Sequence[ModelRequest],
        timeout_s: float,
    ) -> Sequence[InvocationResult]:
        """Run several requests at once; one result per request, in order."""
        ...

    def unload(self, handle: ModelHandle) -> None:
        """Release one instance."""
        ...

    def health(self, handle: ModelHandle) -> bool:
        """True when the instance can serve."""
        ...

    def close(self) -> None:
        """Release shared resources and end any call still blocking; runtime stop calls it."""
        ...


@runtime_checkable
class ValidatingInvoker(Protocol):
    """A backend's optional check of a version before it is registered.

    Declared apart from `ModelInvoker`, which every backend implements: the
    runtime asks `isinstance(invoker, ValidatingInvoker)` rather than guessing
    with `getattr`.
    """

    def validate(self, version: ModelVersion) -> None:
        """Raise `ConfigError` naming the field when `version` cannot be served by this backend."""
        ...


class Clock(Protocol):
    """Time, injected so policies and tests control it."""

    def monotonic(self) -> float:
        """Seconds on a monotonic clock (for durations and deadlines)."""
        ...

    def now(self) -> datetime:
        """Timezone-aware wall-clock time (for timestamps)."""
        ...


class RandomSource(Protocol):
    """The subset of `random.Random` policies use; pass a seeded one for tests."""

    def random(self) -> float:
        """A float in [0, 1)."""
        ...

    def randrange(self, stop: int, /) -> int:
        """An int in [0, stop)."""
        ...

    def betavariate(self, alpha: float, beta: float, /) -> float:
        """A draw from Beta(alpha, beta)."""
        ...


class CostCalculator(Protocol):
    """Prices one request."""

    def cost(self, version: ModelVersion, input_tokens: int, output_tokens: int, compute_s: float) -> float:
        """USD for one request served by `version`."""
        ...


class MetricsSink(Protocol):
    """Receives events from version actors (their threads); must not block.

    `active` False tells versions they may skip building events at all.
    """

    @property
    def active(self) -> bool:
        """True when this sink wants events."""
        ...

    def status_changed(self, version: ModelVersion, status: ModelStatus, at: float) -> None:
        """`version` entered `status` at monotonic time `at`."""
        ...

    def requests_completed(self, version: ModelVersion, outcomes: Sequence[Outcome]) -> None:
        """`version` answered these requests."""
        ...

    def replica_loaded(self, version: ModelVersion, load_s: float) -> None:
        """One replica of `version` loaded in `load_s` seconds."""
        ...

    def load_changed(self, version: ModelVersion, queue_depth: int, in_flight: int, replicas_ready: int) -> None:
        """`version`'s queue, requests at workers, or loaded replicas changed."""
        ...


@runtime_checkable
class BatchMetricsSink(Protocol):
    """A metrics sink's optional batching events (what `actorserve_batch_size` and the cost gauges show).

    Declared apart from `MetricsSink` so sinks written before batching
    metrics still type-check; versions ask `isinstance(sink, BatchMetricsSink)`
    once. Sent only by versions that batch (`max_batch_size > 1` or
    `batch_wait_ms = "auto"`).
    """

    def batch_finished(self, version: ModelVersion, size: int, duration_s: float) -> None:
        """A replica of `version` ran a batch of `size` requests in `duration_s` seconds."""
        ...

    def batch_cost_changed(self, version: ModelVersion, per_item_s: float, fixed_s: float) -> None:
        """Adaptive batching refitted `version`'s batch cost: `per_item_s * n + fixed_s` seconds."""
        ...


class MetricsExporter(MetricsSink, Protocol):
    """A metrics sink that also serves what it collects (e.g. Prometheus text over HTTP)."""

    def serve(self, host: str, port: int) -> int:
        """Start serving on `host:port` (0: any free port); returns the port."""
        ...

    def close(self) -> None:
        """Stop serving and join any thread `serve` started."""
        ...


class NetworkServer(Protocol):
    """A network front that serves a runtime from a thread of its own (the HTTP server).

    Found by name through the `actorserve.servers` entry-point group and built
    as `Server(runtime, **options)`, so `actors` never imports the adapter.
    """

    def serve(self, host: str, port: int) -> int:
        """Start listening on `host:port` (0: any free port) and return the bound port once accepting."""
        ...

    def close(self, timeout_s: float) -> None:
        """Stop accepting, let requests in progress finish for at most `timeout_s`, then join the thread."""
        ...


class StateStore(Protocol):
    """Durable control-plane documents, merged statistics and leases, under one namespace.

    Every key a store writes is prefixed by its `namespace`; two stores with
    different namespaces never see each other's data. Calls block until the
    store answered; a store that cannot answer raises `StateError` within its
    bounded timeout, never hangs. Names (`kind`, lease `name`) are checked by
    `domain.state.check_name`, keys by `check_key`; invalid ones raise
    `ConfigError`. Values are JSON: documents are JSON objects, counters numbers.

    Implementations may be called from several threads.
    """

    @property
    def url(self) -> str:
        """Where the store lives (any password masked), as given to `from_url`."""
        ...

    @property
    def namespace(self) -> str:
        """The prefix of every key this store reads and writes."""
        ...

    def put_document(self, kind: str, key: str, doc: Mapping[str, JSONValue], *, ttl_ms: int | None = None) -> None:
        """Store `doc` under `(kind, key)`, replacing any document or tombstone; durable when it returns.

        With `ttl_ms`, the document expires that many milliseconds later and
        then reads as absent (pending request ids).
        """
        ...

    def put_documents(self, entries: Sequence[DocumentEntry]) -> None:
        """`put_document` for each `(kind, key, doc, ttl_ms)` entry, all or none, in one transaction or round trip.

        What a write-behind flush uses: many short-lived documents (pending
        request ids) cost one commit, not one each.
        """
        ...

    def get_document(self, kind: str, key: str) -> Document | None:
        """The live document under `(kind, key)`; None if absent, expired or deleted."""
        ...

    def list_documents(self, kind: str) -> list[StoredDocument]:
        """Every live document and every tombstone of `kind`, sorted by key (expired ones left out)."""
        ...

    def delete_document(self, kind: str, key: str) -> None:
        """Replace `(kind, key)` by a tombstone (kept until a new `put_document`); durable when it returns."""
        ...

    def pop_document(self, kind: str, key: str) -> Document | None:
        """Remove and return the live document under `(kind, key)`, atomically; None if there was none.

        Leaves no tombstone: this is for short-lived entries (pending request
        ids), of which only one caller may take each.
        """
        ...

    def increment(self, batch: CounterBatch, *, batch_id: str | None = None) -> None:
        """Add every delta of `batch` to its field, all or none, in one round trip or transaction.

        With `batch_id`, the batch is applied at most once per id (ids are
        remembered for a day): a retry after an answer that never came (the
        store applied it, then the call timed out) adds nothing more.
        """
        ...

    def read_counters(self, kind: str, key: str) -> Counters:
        """The totals of `(kind, key)` across every writer (empty if never incremented)."""
        ...

    def list_counters(self, kind: str) -> dict[str, Counters]:
        """The totals of every key of `kind` (e.g. per-unit aggregates), by key."""
        ...

    def acquire_lease(self, name: str, owner: str, ttl_ms: int) -> bool:
        """Take or renew lease `name` for `owner` for `ttl_ms` milliseconds.

        Returns True if `owner` now holds it (it was free, expired, or already
        `owner`'s: then its expiry is pushed back), False if another owner does.
        """
        ...

    def release_lease(self, name: str, owner: str) -> bool:
        """Free lease `name` if `owner` holds it; True if it did (another owner's lease is left alone)."""
        ...

    def ping(self) -> None:
        """Return if the store answers; raise `StateError` saying why not."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise `StateError`. Safe to call twice."""
        ...


class StateStoreFactory(Protocol):
    """What an `actorserve.state` entry point names (a store class): opens a store from its URL."""

    def from_url(self, url: str, *, namespace: str = ...) -> StateStore:
        """Open the store at `url` under `namespace`; raise `StateError` if it cannot be opened."""
        ...
