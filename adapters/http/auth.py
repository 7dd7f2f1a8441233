"""Bearer-token auth: keys kept as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass

from actorserve.domain.errors import ConfigError

__all__ = ["ApiKeys"]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


@dataclass(frozen=True, slots=True)
class ApiKeys:
    """The accepted bearer tokens, as digests only (the keys themselves are never kept, logged or shown).

    Every digest is compared with `hmac.compare_digest`, and all of them are
    compared whatever matched, so the time taken says nothing about a key.
    """

    digests: tuple[bytes, ...]

    def __repr__(self) -> str:
        return f"ApiKeys({len(self.digests)} keys)"

    @classmethod
    def build(cls, api_keys: Iterable[str] | str | None, api_keys_env: str | None) -> ApiKeys | None:
        """The keys given inline plus those in the variable `api_keys_env` (comma-separated); None: no auth.

        Raises:
            ConfigError: a key that is not a non-empty string, or `api_keys_env` naming an unset variable.
        """
        keys: list[str] = []
        if api_keys is not None:
            given = [api_keys] if isinstance(api_keys, str) else list(api_keys)
            for i, key in enumerate(given):
                if not isinstance(key, str) or not key.strip():
                    raise ConfigError(f"api_keys[{i}]: must be a non-empty string", field="api_keys")
                keys.append(key.strip())
        if api_keys_env is not None:
            if not isinstance(api_keys_env, str) or not api_keys_env:
                raise ConfigError("api_keys_env: must name an environment variable", field="api_keys_env")
            value = os.environ.get(api_keys_env)
            if value is None or not value.strip():
                msg = f"api_keys_env: the variable {api_keys_env} is not set (or empty)"
                raise ConfigError(msg, field="api_keys_env")
            keys.extend(k.strip() for k in value.split(",") if k.strip())
        if not keys:
            if api_keys is not None:
                raise ConfigError("api_keys: needs at least one key (or None for no auth)", field="api_keys")
            return None
        return cls(tuple(_digest(k) for k in keys))

    def allows(self, authorization: str | None) -> bool:
        """True when the `Authorization` header carries one of the keys as a bearer token."""
        if authorization is None:
            return False
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        offered = _digest(token.strip())
        matched = False
        for digest in self.digests:
            matched |= hmac.compare_digest(offered, digest)
        return matched
