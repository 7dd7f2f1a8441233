from __future__ import annotations

import math

import pytest

from actorserve.domain.errors import ConfigError
from actorserve.domain.state import (
    StoredDocument,
    as_total,
    check_increments,
    check_key,
    check_name,
    check_ttl_ms,
    merge_increments,
)


def test_a_tombstone_is_a_stored_document_without_a_body() -> None:
    assert StoredDocument("v1", None).deleted
    assert not StoredDocument("v1", {"a": 1}).deleted


@pytest.mark.parametrize("name", ["", "a:b", "with space", "x" * 65, "ünï"])
def test_names_that_could_collide_in_store_keys_are_refused(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_name(name, field="kind")
    assert caught.value.field == "kind"


def test_keys_may_hold_any_text_but_must_be_non_empty_and_bounded() -> None:
    assert check_key("model:v1/üñ ok") == "model:v1/üñ ok"
    for bad in ("", "x" * 513, "nul\x00"):
        with pytest.raises(ConfigError):
            check_key(bad)


@pytest.mark.parametrize("ttl", [0, -1, 1.5, True])
def test_ttls_are_positive_whole_milliseconds(ttl: int) -> None:
    with pytest.raises(ConfigError, match="ttl_ms"):
        check_ttl_ms(ttl)


@pytest.mark.parametrize("delta", [math.nan, math.inf, True, "1", None])
def test_increments_must_be_finite_numbers(delta: object) -> None:
    with pytest.raises(ConfigError, match=r"exp/a\.n"):
        check_increments({("exp", "a"): {"n": delta}})  # type: ignore[dict-item]


def test_batches_merge_by_target_and_field() -> None:
    merged = merge_increments({("exp", "a"): {"n": 1, "sum": 0.5}}, {("exp", "a"): {"n": 2}, ("exp", "b"): {"n": 1}})
    assert merged == {("exp", "a"): {"n": 3, "sum": 0.5}, ("exp", "b"): {"n": 1}}


def test_whole_totals_read_as_ints_whatever_the_delta_type() -> None:
    assert as_total(4.0) == 4
    assert isinstance(as_total(4.0), int)
    assert as_total(2.5) == 2.5
    assert as_total(7) == 7
