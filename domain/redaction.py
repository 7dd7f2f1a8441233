"""Which parameter names hold secrets, so they stay out of reprs, logs and stored state.

One rule for every place that must hide or drop a credential: `ModelVersion`'s
repr masks these parameters, and the state store (DESIGN §7) drops them.

A name is secret-looking when, lower-cased with `-` read as `_`, it is one of
`api_key`, `apikey`, `token`, `password`, `passwd`, `secret`, `authorization`,
or ends in `_key`, `_secret`, `_token` or `_password`. A name ending in `_env`
(`api_key_env`) is not: it holds the *name* of an environment variable, which
is what a user should write instead of the secret itself.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["MASK", "is_secret_name", "redact_parameters"]

MASK = "***"
"""What a secret value reads as once masked."""

_SECRET_NAMES = frozenset({"api_key", "apikey", "token", "password", "passwd", "secret", "authorization"})
_SECRET_SUFFIXES = ("_key", "_secret", "_token", "_password")


def is_secret_name(name: object) -> bool:
    """Whether a parameter (or header) called `name` holds a secret.

    Examples: `api_key`, `hf_token`, `client_secret`, `X-Api-Key` and
    `Authorization` do; `api_key_env`, `max_tokens` and `model_name` do not.
    """
    if not isinstance(name, str):
        return False
    normal = name.strip().lower().replace("-", "_")
    if normal.endswith("_env"):
        return False
    return normal in _SECRET_NAMES or normal.endswith(_SECRET_SUFFIXES)


def redact_parameters(parameters: Mapping[str, object]) -> dict[str, object]:
    """A copy of `parameters` with every secret-looking value replaced by `MASK`.

    Nested tables (e.g. `headers = {"Authorization": "Bearer ..."}`) are
    masked the same way; a value of None stays None (there is nothing to
    hide); everything else is kept as it is.
    """
    return _redact(parameters, set())


def _redact(parameters: Mapping[str, object], path: set[int]) -> dict[str, object]:
    path.add(id(parameters))
    out: dict[str, object] = {}
    for name, value in parameters.items():
        if is_secret_name(name) and value is not None:
            out[name] = MASK
        elif isinstance(value, Mapping):
            out[name] = MASK if id(value) in path else _redact(value, path)  # a table that contains itself
        else:
            out[name] = value
    path.discard(id(parameters))
    return out
