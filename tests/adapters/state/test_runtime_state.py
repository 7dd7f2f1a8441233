"""A runtime on a real store: what it keeps, what it restores, what it never writes, and how it fails."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from actorserve import ServingRuntime
from actorserve.adapters.state import SqliteStateStore
from actorserve.domain.enums import ModelStatus
from actorserve.domain.errors import ConfigError, StateError
from actorserve.domain.records import VERSION, version_record
from tests.adapters.state.conftest import RedisServer, needs_redis
from tests.fakes import eventually, make_version

Factory = Callable[..., ServingRuntime]
SECRET = "sk-planted-0123456789abcdef"


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


def test_a_restarted_runtime_restores_its_versions_and_routing(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = runtimes(state=url)
    assert first.register(make_version("v1", replicas=2))
    assert first.register(make_version("v2", number="2.0.0"))
    first.set_routing("chat", "weighted", {"v1": 0.0, "v2": 1.0})
    assert first.wait_ready("v1", 5) and first.wait_ready("v2", 5)
    first.stop()

    second = runtimes(state=url)
    assert second.wait_ready("v1", 5) and second.wait_ready("v2", 5)
    restored = second.get_version("v1")
    assert restored is not None and restored.serving.replicas == 2
    assert {second.serve("chat", {"prompt": "hi"}).version_id for _ in range(20)} == {"v2"}  # the rule came back
    assert not second.register(make_version("v1", replicas=2))  # host code that registers at every boot
    state = second.health()["state"]
    assert isinstance(state, dict) and state["healthy"] is True and state["skipped"] == []


def test_an_unloaded_version_stays_gone_after_a_restart(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = runtimes(state=url)
    assert first.register(make_version("v1"))
    assert first.register(make_version("v2"))
    assert first.unload("v1")
    first.stop()

    second = runtimes(state=url)
    assert second.wait_ready("v2", 5)
    assert second.get_version("v1") is None
    assert second.register(make_version("v1"))  # a tombstone does not block registering it again


def test_a_secret_is_never_written_and_its_version_says_how_to_give_it(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = runtimes(state=url)
    assert first.register(make_version("v1", parameters={"api_key": SECRET, "headers": {"X-Api-Key": SECRET}}))
    first.stop()
    for path in tmp_path.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path.name

    second = runtimes(state=url)
    assert not second.wait_ready("v1", 5)
    restored = second.get_version("v1")
    assert restored is not None and restored.status is ModelStatus.FAILED
    assert restored.last_error is not None and "api_key_env" in restored.last_error
    assert "parameters.api_key" in restored.last_error


def test_an_entry_that_cannot_be_restored_is_skipped_and_listed(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    store = SqliteStateStore.from_url(url)
    store.put_document(VERSION, "good", version_record(make_version("good")))
    store.put_document(VERSION, "bad", version_record(make_version("bad", parameters={"invoker": "no-such"})))
    broken = version_record(make_version("broken"))
    broken["serving"] = {"replicas": "many"}
    store.put_document(VERSION, "broken", broken)
    store.close()

    rt = runtimes(state=url)
    assert rt.wait_ready("good", 5)
    state = rt.health()["state"]
    assert isinstance(state, dict)
    skipped = {s["entry"]: s["reason"] for s in state["skipped"]}
    assert set(skipped) == {"version bad", "version broken"}
    assert "no-such" in skipped["version bad"]
    assert "replicas" in skipped["version broken"]


def test_parameters_json_cannot_hold_are_refused_by_name(runtimes: Factory, tmp_path: Path) -> None:
    rt = runtimes(state=sqlite_url(tmp_path))
    with pytest.raises(ConfigError, match="parameters"):
        rt.register(make_version("v1", parameters={"labels": {1, 2}}))
    assert rt.get_version("v1") is None


def test_a_store_that_cannot_be_opened_is_a_one_line_state_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="redis://127.0.0.1:1/0") as raised:
        ServingRuntime(state="redis://127.0.0.1:1/0")
    assert "\n" not in str(raised.value)
    with pytest.raises(StateError, match="unknown scheme 'postgres'"):
        ServingRuntime(state="postgres://db/x")


def test_a_store_that_is_not_required_leaves_the_runtime_in_memory(runtimes: Factory) -> None:
    rt = runtimes(state="redis://127.0.0.1:1/0", state_required=False)
    assert rt.register(make_version("v1"))
    assert rt.wait_ready("v1", 5)
    assert rt.serve("chat", {"prompt": "hi"}).success
    state = rt.health()["state"]
    assert isinstance(state, dict) and state["healthy"] is False and "memory only" in str(state["last_error"])


def test_a_corrupt_sqlite_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(StateError, match="state.db"):
        ServingRuntime(state=f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused_not_half_read(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    SqliteStateStore.from_url(url).close()
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="schema"):
        ServingRuntime(state=url)


def test_bad_state_arguments_are_named() -> None:
    with pytest.raises(ConfigError, match="flush_interval_s"):
        ServingRuntime(state=None, flush_interval_s=0)
    with pytest.raises(ConfigError, match="state_namespace"):
        ServingRuntime(state=None, state_namespace="a b")
    with pytest.raises(ConfigError, match="state"):
        ServingRuntime(state=42)  # type: ignore[arg-type]


@needs_redis
def test_a_runtime_on_redis_restores_after_a_restart(runtimes: Factory, redis_server: RedisServer) -> None:
    first = runtimes(state=redis_server.url, state_namespace="restart-test")
    assert first.register(make_version("v1", parameters={"api_key": SECRET}))
    assert first.register(make_version("v2"))
    first.stop()
    import redis

    client = redis.Redis(unix_socket_path=str(redis_server.socket))
    for key in client.scan_iter("restart-test*"):
        value = client.dump(key)
        assert value is None or SECRET.encode() not in value
    client.close()

    second = runtimes(state=redis_server.url, state_namespace="restart-test")
    assert second.wait_ready("v2", 5)
    assert second.get_version("v1") is not None


def test_intelligent_routing_resumes_from_the_evidence_it_had(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = runtimes(state=url, seed=5, flush_interval_s=0.05)
    first.register(make_version("good", parameters={"error_rate": 0.0}))
    first.register(make_version("bad", number="2.0.0", parameters={"error_rate": 1.0}))
    assert first.wait_ready("good", 5) and first.wait_ready("bad", 5)
    first.set_routing("chat", "intelligent")
    first.serve("chat", {"prompt": "hi"})  # the bandit starts with the model's first routed request
    for _ in range(50):  # pinned, so both versions gather evidence however the bandit would have chosen
        assert first.serve("chat", {"prompt": "hi"}, version_id="good").success
        assert not first.serve("chat", {"prompt": "hi"}, version_id="bad").success
    store = SqliteStateStore.from_url(url)

    def kept() -> bool:
        evidence = store.read_counters("bandit", "chat")
        return evidence.get("bad.shortfall", 0) >= 50 and evidence.get("good.reward", 0) >= 35

    assert eventually(kept, timeout=10)
    store.close()
    first.stop()

    second = runtimes(state=url, seed=5)
    assert second.wait_ready("good", 5) and second.wait_ready("bad", 5)
    chosen = [second.serve("chat", {"prompt": "hi"}).version_id for _ in range(20)]
    assert chosen.count("bad") <= 2  # from fresh Beta(1, 1) posteriors, about half would go to "bad"


def test_keys_and_values_too_large_to_store_are_refused_at_the_door(runtimes: Factory, tmp_path: Path) -> None:
    rt = runtimes(state=sqlite_url(tmp_path))
    rt.register(make_version("v1"))
    rt.register(make_version("v2"))
    assert rt.wait_ready("v1", 5) and rt.wait_ready("v2", 5)
    test_id = rt.experiments.start_ab_test(["v1", "v2"])
    response = rt.experiments.serve(test_id, {"prompt": "hi"}, key="k" * 1000)
    assert response.error_code is not None and response.error_code.value == "invalid_input"
    assert response.error is not None and response.error.startswith("key:")
    served = rt.experiments.serve(test_id, {"prompt": "hi"}, key="user-1")
    with pytest.raises(ConfigError, match="value"):
        rt.experiments.record_outcome(test_id, served.request_id, 1e200)
    with pytest.raises(ConfigError, match="metric"):
        rt.experiments.record_outcome(test_id, served.request_id, 1.0, metric="m" * 100)
    with pytest.raises(ConfigError, match="key"):
        rt.experiments.record_covariate(test_id, "k" * 1000, 1.0)
