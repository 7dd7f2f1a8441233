from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actorserve.adapters.tensors import TensorError, check_elements, datatype_of, flatten, reshape, shape_of, split_rows


@st.composite
def tensors(draw: st.DrawFn) -> object:
    """Rectangular nested lists of floats, rank 0-3, any dimension 0-4."""
    shape = draw(st.lists(st.integers(0, 4), max_size=3))
    elements = st.floats(allow_nan=False, allow_infinity=False, width=32)

    def build(dims: list[int]) -> object:
        if not dims:
            return draw(elements)
        return [build(dims[1:]) for _ in range(dims[0])]

    return build(shape)


@given(tensors())
def test_flatten_then_reshape_gives_the_tensor_back(value: object) -> None:
    shape = shape_of(value, "x")
    flat = flatten(value)
    if 0 in shape:
        assert flat == [] or not isinstance(value, list)
    else:
        assert reshape(flat, shape, "x") == value


@given(st.lists(st.integers(0, 5), min_size=1, max_size=6))
def test_split_rows_cuts_a_batch_back_into_its_requests(counts: list[int]) -> None:
    rows = list(range(sum(counts)))
    pieces = split_rows(rows, counts, "y")
    assert [len(p) for p in pieces] == counts
    assert [x for p in pieces for x in p] == rows


def test_problems_name_the_field() -> None:
    with pytest.raises(TensorError, match=r"x\[1\]: ragged tensor"):
        shape_of([[1], [1, 2]], "x")
    with pytest.raises(TensorError, match="x: 3 elements do not fill shape"):
        reshape([1, 2, 3], [2, 2], "x")
    with pytest.raises(TensorError, match="y: 2 rows for a batch of 3"):
        split_rows([1, 2], [1, 2], "y")
    with pytest.raises(TensorError, match=r"z\[0\]: 1.5 is not a INT64 element"):
        check_elements([1.5], "INT64", "z")
    assert datatype_of([1, 2.5], "x") == "FP64"
    assert datatype_of([True], "x") == "BOOL"
    assert datatype_of(["a"], "x") == "BYTES"
