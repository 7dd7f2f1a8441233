"""What every StateStore does, checked on SQLite and on a real Redis alike."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from actorserve.domain.errors import ConfigError, StateError
from actorserve.domain.ports import StateStore
from actorserve.domain.state import StoredDocument
from tests.adapters.state.conftest import StoreFactory


def test_a_document_reads_back_as_written_and_a_put_replaces_it(store: StateStore) -> None:
    store.put_document("version", "m:v1", {"model": "m", "params": {"a": [1, 2.5, None, True]}})
    assert store.get_document("version", "m:v1") == {"model": "m", "params": {"a": [1, 2.5, None, True]}}
    store.put_document("version", "m:v1", {"model": "m", "desired": "registered"})
    assert store.get_document("version", "m:v1") == {"model": "m", "desired": "registered"}
    assert store.get_document("version", "absent") is None
    assert store.get_document("routing", "m:v1") is None


def test_a_deleted_document_is_listed_as_a_tombstone_not_resurrected(store: StateStore) -> None:
    store.put_document("version", "a", {"n": 1})
    store.put_document("version", "b", {"n": 2})
    store.delete_document("version", "a")
    store.delete_document("version", "never-stored")
    assert store.get_document("version", "a") is None
    assert store.list_documents("version") == [
        StoredDocument("a", None),
        StoredDocument("b", {"n": 2}),
        StoredDocument("never-stored", None),
    ]


def test_a_put_after_a_delete_brings_the_document_back(store: StateStore) -> None:
    store.delete_document("experiment", "ab-1")
    store.put_document("experiment", "ab-1", {"status": "running"})
    assert store.list_documents("experiment") == [StoredDocument("ab-1", {"status": "running"})]


def test_a_pending_entry_is_popped_by_one_caller_only(open_backend: StoreFactory) -> None:
    first, second = open_backend(), open_backend()
    first.put_document("pending", "req-1", {"reply_to": "x"}, ttl_ms=60_000)
    assert second.pop_document("pending", "req-1") == {"reply_to": "x"}
    assert first.pop_document("pending", "req-1") is None
    assert first.list_documents("pending") == []


def test_a_retried_batch_with_the_same_id_counts_once(open_backend: StoreFactory) -> None:
    first, second = open_backend(), open_backend()
    batch = {("ab_arm", "t/0"): {"assigned": 3, "latency.sum": 1.5}}
    first.increment(batch, batch_id="flush-1")
    second.increment(batch, batch_id="flush-1")  # the retry of a flush whose answer was lost
    first.increment(batch, batch_id="flush-2")
    first.increment(batch)  # no id: always applied
    assert second.read_counters("ab_arm", "t/0") == {"assigned": 9, "latency.sum": 4.5}


def test_a_batch_of_documents_is_written_whole_and_read_like_single_puts(store: StateStore) -> None:
    store.put_document("pending", "old", {"n": 0})
    store.put_documents(
        [("pending", f"r{i}", {"n": i}, 60_000) for i in range(500)] + [("version", "v1", {"a": 1}, None)]
    )
    assert store.get_document("pending", "r499") == {"n": 499}
    assert store.get_document("version", "v1") == {"a": 1}
    assert len(store.list_documents("pending")) == 501
    assert store.pop_document("pending", "r7") == {"n": 7}
    assert len(store.list_documents("pending")) == 500
    store.put_documents([])  # nothing to write is no error
    with pytest.raises(ConfigError, match="ttl_ms"):
        store.put_documents([("pending", "bad", {"n": 1}, 0), ("pending", "never", {"n": 1}, None)])
    assert store.get_document("pending", "never") is None  # all or none


def test_popping_a_tombstone_returns_nothing_and_keeps_it(store: StateStore) -> None:
    store.delete_document("version", "gone")
    assert store.pop_document("version", "gone") is None
    assert store.list_documents("version") == [StoredDocument("gone", None)]


def test_increments_from_every_writer_add_up(open_backend: StoreFactory) -> None:
    one, two = open_backend(), open_backend()
    one.increment({("abstat", "t1:a"): {"n": 3, "sum": 1.5, "sumsq": 0.75}, ("abstat", "t1:b"): {"n": 1}})
    two.increment({("abstat", "t1:a"): {"n": 2, "sum": 1.0, "err:timeout": 1}})
    assert one.read_counters("abstat", "t1:a") == {"err:timeout": 1, "n": 5, "sum": 2.5, "sumsq": 0.75}
    assert two.list_counters("abstat") == {
        "t1:a": {"err:timeout": 1, "n": 5, "sum": 2.5, "sumsq": 0.75},
        "t1:b": {"n": 1},
    }
    assert one.read_counters("abstat", "never") == {}
    assert one.list_counters("other") == {}


def test_whole_totals_are_ints_and_fractional_ones_floats(store: StateStore) -> None:
    store.increment({("h", "k"): {"count": 2, "half": 0.5, "whole": 1.5}})
    store.increment({("h", "k"): {"count": 3, "half": 0.25, "whole": 0.5}})
    totals = store.read_counters("h", "k")
    assert totals == {"count": 5, "half": 0.75, "whole": 2}
    assert isinstance(totals["count"], int)
    assert isinstance(totals["whole"], int)
    assert isinstance(totals["half"], float)


def test_a_batch_of_ten_thousand_increments_lands_whole(store: StateStore) -> None:
    batch = {("units", f"u{u}"): {f"bucket{b}": b for b in range(100)} for u in range(100)}
    store.increment(batch)
    store.increment(batch)
    counters = store.list_counters("units")
    assert len(counters) == 100
    assert all(len(fields) == 100 for fields in counters.values())
    assert sum(v for fields in counters.values() for v in fields.values()) == 2 * 100 * sum(range(100))


def test_an_invalid_batch_applies_nothing(store: StateStore) -> None:
    with pytest.raises(ConfigError, match="delta"):
        store.increment({("s", "ok"): {"n": 1}, ("s", "bad"): {"n": float("nan")}})
    assert store.list_counters("s") == {}
    store.increment({})


def test_two_namespaces_never_see_each_others_data(open_backend: StoreFactory, fresh_namespace: str) -> None:
    mine, theirs = open_backend(), open_backend(fresh_namespace + "-other")
    mine.put_document("version", "v", {"mine": True})
    mine.delete_document("version", "old")
    mine.increment({("s", "k"): {"n": 1}})
    assert mine.acquire_lease("canary", "me", 60_000)
    assert theirs.get_document("version", "v") is None
    assert theirs.list_documents("version") == []
    assert theirs.read_counters("s", "k") == {}
    assert theirs.acquire_lease("canary", "them", 60_000)
    assert theirs.namespace != mine.namespace


def test_a_lease_has_one_owner_until_released(open_backend: StoreFactory) -> None:
    a, b = open_backend(), open_backend()
    assert a.acquire_lease("canary.c1", "proc-a", 60_000)
    assert not b.acquire_lease("canary.c1", "proc-b", 60_000)
    assert a.acquire_lease("canary.c1", "proc-a", 60_000)  # renewal
    assert not b.release_lease("canary.c1", "proc-b")
    assert not b.acquire_lease("canary.c1", "proc-b", 60_000)
    assert a.release_lease("canary.c1", "proc-a")
    assert not a.release_lease("canary.c1", "proc-a")
    assert b.acquire_lease("canary.c1", "proc-b", 60_000)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.put_document("bad:kind", "k", {}), "kind"),
        (lambda s: s.get_document("version", ""), "key"),
        (lambda s: s.list_documents("a b"), "kind"),
        (lambda s: s.put_document("version", "k", {"x": object()}), "doc"),
        (lambda s: s.put_document("version", "k", {"x": float("inf")}), "doc"),
        (lambda s: s.put_document("version", "k", {}, ttl_ms=0), "ttl_ms"),
        (lambda s: s.acquire_lease("canary", "", 1000), "owner"),
        (lambda s: s.acquire_lease("canary", "me", -5), "ttl_ms"),
        (lambda s: s.increment({("k", "x"): {"n": True}}), "delta"),
    ],
)
def test_invalid_arguments_are_config_errors_naming_the_field(
    store: StateStore, call: Callable[[StateStore], object], field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        call(store)
    assert caught.value.field == field


def test_ping_answers_and_a_closed_store_refuses_every_call(open_backend: StoreFactory) -> None:
    store = open_backend()
    store.ping()
    store.close()
    store.close()
    calls: list[Callable[[], object]] = [
        store.ping,
        lambda: store.get_document("v", "k"),
        lambda: store.increment({("s", "k"): {"n": 1}}),
    ]
    for call in calls:
        with pytest.raises(StateError, match="closed"):
            call()


def test_an_invalid_namespace_is_refused(open_backend: StoreFactory) -> None:
    with pytest.raises(ConfigError) as caught:
        open_backend("has:colon")
    assert caught.value.field == "namespace"
