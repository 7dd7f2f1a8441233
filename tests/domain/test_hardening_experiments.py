"""Hardening of the pure experiment policies: any key hashes, any output votes and compares."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime

from actorserve.domain.abtest import ABTestSpec, assign
from actorserve.domain.routing import Candidate, rendezvous_choice

SURROGATE = "\ud800"
KEYS = [f"user-{i}" for i in range(200)] + ["", "é", "日本語", "emoji 🙂", "\x00"]
CANDIDATES = [Candidate(f"v{i}", datetime(2024, 1, 1, tzinfo=UTC)) for i in range(3)]


# --- D1 / D2: keys hash whatever string they are --------------------------------------


def _strict_rendezvous(key: str) -> str:
    """The assignment before the fix (strict UTF-8), for keys it could hash."""

    def unit(version_id: str) -> float:
        digest = hashlib.blake2b(f"{key}\x00{version_id}".encode(), digest_size=8).digest()
        return (int.from_bytes(digest, "big") + 1) / (2**64 + 1)

    return max(CANDIDATES, key=lambda c: -1.0 / math.log(unit(c.version_id))).version_id


def test_a_lone_surrogate_key_is_pinned_to_one_version() -> None:
    chosen = {rendezvous_choice(CANDIDATES, SURROGATE).version_id for _ in range(3)}
    assert len(chosen) == 1
    assert rendezvous_choice(CANDIDATES, f"user{SURROGATE}x", {"v0": 1.0, "v1": 2.0}).version_id in {"v0", "v1"}


def test_ordinary_keys_keep_the_version_they_were_assigned_before() -> None:
    assert [rendezvous_choice(CANDIDATES, k).version_id for k in KEYS] == [_strict_rendezvous(k) for k in KEYS]


def test_a_lone_surrogate_key_is_assigned_one_ab_arm() -> None:
    spec = ABTestSpec(test_id="t", arms=("a", "b"), weights=(1.0, 1.0))
    assert {assign(spec, SURROGATE, draw) for draw in (0.0, 0.5, 0.99)} in ({0}, {1})


def test_ordinary_keys_keep_their_ab_arm() -> None:
    spec = ABTestSpec(test_id="t", arms=("a", "b", "c"), weights=(1.0, 2.0, 1.0))

    def strict(key: str) -> int:
        digest = hashlib.blake2b(f"t\x00{key}".encode(), digest_size=8).digest()
        point = int.from_bytes(digest, "big") / 2**64
        return 0 if point < 0.25 else 1 if point < 0.75 else 2

    assert [assign(spec, k, 0.0) for k in KEYS] == [strict(k) for k in KEYS]
