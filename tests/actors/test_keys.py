from __future__ import annotations

from actorserve.actors.keys import ReplicaKey, VersionKey


def test_keys_read_as_version_at_generation() -> None:
    key = VersionKey("v1", 2)
    assert str(key) == "v1@2"
    assert str(ReplicaKey(key, 0, 3)) == "v1@2/replica-0@3"


def test_a_restart_starts_the_next_generation_which_supersedes_the_old_one() -> None:
    old = VersionKey("v1", 1)
    new = old.next()
    assert new == VersionKey("v1", 2)
    assert new.supersedes(old)
    assert not old.supersedes(new)
    assert not old.supersedes(old)


def test_generations_of_different_versions_never_supersede_each_other() -> None:
    assert not VersionKey("v2", 5).supersedes(VersionKey("v1", 1))
