"""What a vote or a comparison looks at in a model's output: its prediction, as plain data.

Backends answer with more than the prediction: the model's name and version,
an id, a timestamp, a latency. Two versions of one model that predict the
same thing still differ in those fields, so ensembles vote on, and shadows
compare, the prediction alone. `prediction` picks it out; `vote_key` turns it
into a string that is equal exactly when the predictions are, for any output
(numpy values, dicts with keys of mixed types, text with lone surrogates).
"""

from __future__ import annotations

import json
from typing import Final

__all__ = [
    "IDENTITY_FIELDS",
    "NO_PREDICTION",
    "PREDICTION_FIELDS",
    "canonical",
    "check_vote_on",
    "plain",
    "prediction",
    "vote_key",
]

PREDICTION_FIELDS: Final = ("label", "predict", "text", "output", "result")
"""Without `vote_on`, the first of these a dict output has is its prediction."""

IDENTITY_FIELDS: Final = frozenset(
    {"model", "model_id", "model_name", "version", "version_id", "model_version", "id", "created", "created_at"}
)
"""Fields that say who answered and when, not what: left out when no prediction field is present.

Latency fields (any key containing `latency`) are left out too.
"""


class _NoPrediction:
    """The output has nothing at `vote_on` (a singleton: equal only to itself)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_PREDICTION"


NO_PREDICTION: Final = _NoPrediction()
"""What `prediction` returns when the output has nothing at `vote_on`."""


def check_vote_on(vote_on: object) -> str | None:
    """Why `vote_on` is not a usable path (None: it is). None itself is usable: the default rule."""
    if vote_on is None:
        return None
    if not isinstance(vote_on, str) or not vote_on.strip():
        return f"must be a field name or a dotted path such as 'output.label' (got {vote_on!r})"
    if any(not part.strip() for part in vote_on.split(".")):
        return f"has an empty part (got {vote_on!r})"
    return None


def plain(value: object) -> object:
    """`value` with numpy-like values (anything with `tolist()`) turned into Python numbers and lists.

    Goes through dicts, lists and tuples; other values are returned as they
    are. Duck-typed, so the domain needs no numpy.
    """
    result = value
    if isinstance(value, str | bytes | bool | int | float) or value is None:
        pass
    elif isinstance(value, dict):
        result = {plain(k): plain(v) for k, v in value.items()}
    elif isinstance(value, list):
        result = [plain(v) for v in value]
    elif type(value) is tuple:
        result = tuple(plain(v) for v in value)
    else:
        tolist = getattr(value, "tolist", None)
        if callable(tolist):
            converted = tolist()
            # numpy's tolist() gives Python values; anything else keeps what it gave
            result = converted if type(converted) is type(value) else plain(converted)
    return result


def _is_identity(name: object) -> bool:
    return isinstance(name, str) and (name.lower() in IDENTITY_FIELDS or "latency" in name.lower())


def _at_path(value: object, path: str) -> object:
    for part in path.split("."):
        if isinstance(value, dict):
            if part not in value:
                return NO_PREDICTION
            value = value[part]
        elif isinstance(value, list | tuple) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(value) <= index < len(value):
                return NO_PREDICTION
            value = value[index]
        else:
            return NO_PREDICTION
    return value


def prediction(output: object, vote_on: str | None = None) -> object:
    """The part of `output` a vote or a comparison looks at, as plain data.

    Args:
        output: a member's or a version's output.
        vote_on: a key, or a dotted path of keys and list indices
            (`"choices.0.text"`). None: the first of `PREDICTION_FIELDS` a
            dict output has, else the dict without its `IDENTITY_FIELDS` and
            latency fields; any other output as a whole.

    Returns:
        The prediction, or `NO_PREDICTION` when nothing is at `vote_on`.
    """
    value = plain(output)
    if vote_on is not None:
        return _at_path(value, vote_on)
    if not isinstance(value, dict):
        return value
    for name in PREDICTION_FIELDS:
        if name in value:
            return value[name]
    return {k: v for k, v in value.items() if not _is_identity(k)}


def canonical(value: object) -> str:
    """A string equal for equal plain values; total over any value (dict keys of mixed types too)."""
    if value is None or isinstance(value, bool | int | float | str):
        return json.dumps(value)  # "1" and 1 differ, True and 1 differ, lone surrogates are escaped
    if isinstance(value, dict):
        items = sorted(f"{canonical(k)}:{canonical(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    return f"<{type(value).__qualname__} {value!r}>"


def vote_key(output: object, vote_on: str | None = None) -> str | None:
    """The ballot of one output: equal strings for equal predictions; None when it has none at `vote_on`.

    Raises:
        Exception: whatever the output's own `tolist()` or `repr()` raises
            (callers that must survive any output guard this call).
    """
    value = prediction(output, vote_on)
    return None if value is NO_PREDICTION else canonical(value)
