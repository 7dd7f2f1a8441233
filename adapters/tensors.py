"""Tensors as nested Python lists: shapes, V2 datatypes, and batching along the first axis.

Pure Python, so the HTTP backends need no numpy. Every problem raises
`TensorError` with a message that starts with the offending field, which the
invokers return as INVALID_INPUT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from actorserve.domain.entities import JSONValue

__all__ = [
    "V2_DATATYPES",
    "Tensor",
    "TensorError",
    "check_elements",
    "datatype_of",
    "flatten",
    "parse_tensors",
    "reshape",
    "shape_of",
    "split_rows",
    "tensor_of",
]

V2_DATATYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"}
)
"""The tensor datatypes of the Open Inference Protocol V2."""

_INTEGER = frozenset({"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"})
_FLOAT = frozenset({"FP16", "FP32", "FP64"})


class TensorError(ValueError):
    """A value is not a well-formed tensor; the message names the field."""


@dataclass(frozen=True, slots=True)
class Tensor:
    """One V2 tensor: its name, shape, datatype and elements (flat, row-major)."""

    name: str
    shape: tuple[int, ...]
    datatype: str
    data: list[object]

    def wire(self) -> dict[str, object]:
        """The tensor as the protocol's JSON object."""
        return {"name": self.name, "shape": list(self.shape), "datatype": self.datatype, "data": self.data}

    def nested(self) -> JSONValue:
        """The elements nested in the tensor's shape."""
        return reshape(self.data, self.shape, self.name)


def parse_tensors(raw: object, where: str, *, allow_nonfinite: bool = False) -> tuple[Tensor, ...]:
    """A V2 `inputs` list (`[{name, shape, datatype, data}, ...]`) as checked tensors.

    Raises:
        TensorError: naming the tensor (`inputs[0]`) and what is wrong with it.
    """
    if not isinstance(raw, list):
        raise TensorError(f"{where}: must be a list of tensors")
    tensors = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, dict) or not {"name", "shape", "datatype", "data"} <= set(item):
            raise TensorError(f"{at}: needs name, shape, datatype and data")
        at = f"{at} ({item['name']})" if isinstance(item["name"], str) else at
        shape = item["shape"]
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise TensorError(f"{at}.shape: must be a list of sizes")
        flat = flatten(item["data"])
        if len(flat) != math.prod(shape):
            raise TensorError(f"{at}.data: {len(flat)} elements do not fill shape {shape}")
        datatype = str(item["datatype"])
        check_elements(flat, datatype, f"{at}.data", allow_nonfinite=allow_nonfinite)
        tensors.append(Tensor(str(item["name"]), tuple(shape), datatype, flat))
    return tuple(tensors)


def tensor_of(
    name: str, value: object, where: str, datatype: str | None = None, *, allow_nonfinite: bool = False
) -> Tensor:
    """A nested list as a tensor: its shape, and `datatype` or the one inferred (BOOL, INT64, FP64, BYTES).

    Raises:
        TensorError: ragged nesting, or elements that do not fit the datatype, naming `where`.
    """
    shape = shape_of(value, where)
    flat = flatten(value)
    kind = datatype or datatype_of(flat, where)
    check_elements(flat, kind, where, allow_nonfinite=allow_nonfinite)
    return Tensor(name, tuple(shape), kind, flat)


def shape_of(value: object, where: str) -> list[int]:
    """The shape of a nested list (a scalar has shape []).

    Raises:
        TensorError: ragged nesting, e.g. `[[1, 2], [3]]`.
    """
    if not isinstance(value, list | tuple):
        return []
    if not value:
        return [0]
    inner = [shape_of(item, f"{where}[{i}]") for i, item in enumerate(value)]
    first = inner[0]
    for i, shape in enumerate(inner[1:], start=1):
        if shape != first:
            msg = f"{where}[{i}]: ragged tensor (shape {shape} where {first} was expected)"
            raise TensorError(msg)
    return [len(value), *first]


def flatten(value: object) -> list[object]:
    """The elements of a nested list in row-major order."""
    if not isinstance(value, list | tuple):
        return [value]
    out: list[object] = []
    for item in value:
        out.extend(flatten(item) if isinstance(item, list | tuple) else (item,))
    return out


def reshape(flat: Sequence[JSONValue], shape: Sequence[int], where: str) -> JSONValue:
    """Nest `flat` (row-major) into `shape`.

    Raises:
        TensorError: the element count does not match the shape.
    """
    size = math.prod(shape)
    if len(flat) != size:
        msg = f"{where}: {len(flat)} elements do not fill shape {list(shape)}"
        raise TensorError(msg)
    return _nest(list(flat), list(shape))


def _nest(flat: list[JSONValue], shape: list[int]) -> JSONValue:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat
    step = math.prod(shape[1:])
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def datatype_of(flat: Sequence[object], where: str) -> str:
    """The V2 datatype that holds every element: BOOL, INT64, FP64 or BYTES.

    Raises:
        TensorError: mixed kinds, or an element no datatype holds (None, a dict, ...).
    """
    kinds = set()
    for item in flat:
        if isinstance(item, bool):
            kinds.add("BOOL")
        elif isinstance(item, int):
            kinds.add("INT64")
        elif isinstance(item, float):
            kinds.add("FP64")
        elif isinstance(item, str | bytes):
            kinds.add("BYTES")
        else:
            msg = f"{where}: {type(item).__name__} is not a tensor element"
            raise TensorError(msg)
    if kinds <= {"INT64", "FP64"} and kinds:
        return "FP64" if "FP64" in kinds else "INT64"
    if len(kinds) == 1:
        return kinds.pop()
    if not kinds:
        return "FP64"
    msg = f"{where}: mixes {' and '.join(sorted(kinds))} elements"
    raise TensorError(msg)


def check_elements(flat: Sequence[object], datatype: str, where: str, *, allow_nonfinite: bool = False) -> None:
    """Check that every element fits `datatype` (and is finite, unless allowed).

    Raises:
        TensorError: naming the first element that does not fit.
    """
    if datatype not in V2_DATATYPES:
        msg = f"{where}: unknown datatype {datatype!r} (expected one of {', '.join(sorted(V2_DATATYPES))})"
        raise TensorError(msg)
    for i, item in enumerate(flat):
        if datatype == "BOOL":
            ok = isinstance(item, bool)
        elif datatype in _INTEGER:
            ok = isinstance(item, int) and not isinstance(item, bool)
        elif datatype in _FLOAT:
            ok = isinstance(item, int | float) and not isinstance(item, bool)
            if ok and not allow_nonfinite and not math.isfinite(float(item)):  # type: ignore[arg-type]
                msg = f"{where}[{i}]: {item!r} is not finite"
                raise TensorError(msg)
        else:
            ok = isinstance(item, str | bytes)
        if not ok:
            msg = f"{where}[{i}]: {item!r} is not a {datatype} element"
            raise TensorError(msg)


def split_rows(value: Sequence[JSONValue], counts: Sequence[int], where: str) -> list[list[JSONValue]]:
    """Cut a batch's output (first axis) back into one slice per request.

    Raises:
        TensorError: the output's first axis is not the batch's total row count.
    """
    total = sum(counts)
    if len(value) != total:
        msg = f"{where}: {len(value)} rows for a batch of {total}"
        raise TensorError(msg)
    ends = list(accumulate(counts))
    return [list(value[end - n : end]) for n, end in zip(counts, ends, strict=True)]
