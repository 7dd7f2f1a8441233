from __future__ import annotations

import pytest

from actorserve.domain.errors import ConfigError
from actorserve.domain.write_behind import WriteBehind


def test_increments_merge_into_one_batch_until_cleared() -> None:
    buffer = WriteBehind()
    assert buffer.add({("ab", "t1"): {"n": 1, "sum": 2.5}})
    assert buffer.add({("ab", "t1"): {"n": 1}, ("ab", "t2"): {"n": 3}}, events=2)
    assert buffer.batch() == {("ab", "t1"): {"n": 2, "sum": 2.5}, ("ab", "t2"): {"n": 3}}
    assert buffer.pending == 3
    buffer.clear()
    assert buffer.batch() == {} and buffer.pending == 0


def test_a_full_buffer_drops_new_counter_sets_but_keeps_adding_to_known_ones() -> None:
    buffer = WriteBehind(max_targets=2)
    assert buffer.add({("u", "a"): {"n": 1}})
    assert buffer.add({("u", "b"): {"n": 1}})
    assert not buffer.add({("u", "c"): {"n": 1}}, events=4)
    assert buffer.add({("u", "a"): {"n": 1}})
    assert buffer.dropped == 4
    assert buffer.pending == 3
    assert buffer.batch() == {("u", "a"): {"n": 2}, ("u", "b"): {"n": 1}}


def test_the_bound_is_checked() -> None:
    with pytest.raises(ConfigError, match="max_targets"):
        WriteBehind(0)
