"""Experiments on a real store: restored with their statistics, joined by id, shared between processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actorserve import ServingRuntime
from actorserve.domain.errors import ConfigError
from tests.adapters.state.ab_worker import TEST_ID
from tests.adapters.state.conftest import RedisServer, needs_redis
from tests.fakes import eventually, make_version

Factory = Callable[..., ServingRuntime]
ROOT = Path(__file__).resolve().parents[3]


def boot(runtimes: Factory, url: str, **kwargs: Any) -> ServingRuntime:
    rt = runtimes(state=url, seed=3, flush_interval_s=0.05, **kwargs)
    rt.register(make_version("v1", parameters={"error_rate": 0.1}))
    rt.register(make_version("v2", number="2.0.0", parameters={"error_rate": 0.2}))
    assert rt.wait_ready("v1", 5) and rt.wait_ready("v2", 5)
    return rt


def figures(report: dict[str, object] | None) -> list[tuple[object, ...]]:
    assert report is not None
    arms = report["arms"]
    assert isinstance(arms, list)
    return [(a["assigned"], a["requests"], a["successes"], a["units"], a["tokens"]) for a in arms]


def p_values(report: dict[str, object] | None) -> list[float]:
    assert report is not None
    comparisons = report["comparisons"]
    assert isinstance(comparisons, dict)
    return [row["p_value"] for rows in comparisons.values() for row in rows]


def serve(rt: ServingRuntime, test_id: str, n: int, offset: int = 0) -> dict[str, str]:
    arms = {}
    for i in range(n):
        key = f"user-{(i + offset) % 40}"
        response = rt.experiments.serve(test_id, {"prompt": "hi"}, key=key)
        assert response.success or response.error_code is not None
        arms[key] = response.version_id
    assert rt.experiments.settle(test_id)
    return arms


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


def test_a_restarted_ab_test_reports_the_same_figures_and_keeps_counting(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = boot(runtimes, url)
    test_id = first.experiments.start_ab_test(["v1", "v2"], test_id="t1", min_samples=50)
    arms = serve(first, test_id, 500)
    before = first.experiments.report(test_id)
    first.stop()

    second = boot(runtimes, url)
    assert second.experiments.list() == {"t1": "ab_test"}
    after = second.experiments.report("t1")
    assert figures(after) == figures(before)
    assert p_values(after) == pytest.approx(p_values(before), rel=1e-9)
    assert second.experiments.start_ab_test(["v1", "v2"], test_id="t1", min_samples=50) == "t1"  # joins
    more = serve(second, "t1", 100)
    assert all(arms[key] == version for key, version in more.items())  # a key keeps its arm
    total = figures(second.experiments.report("t1"))
    assert sum(int(row[0]) for row in total) == 600  # type: ignore[call-overload]


def test_a_stopped_experiment_stays_gone_and_a_new_start_begins_at_zero(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = boot(runtimes, url)
    first.experiments.start_ab_test(["v1", "v2"], test_id="t1")
    shadow = first.experiments.start_shadow("v1", "v2", shadow_id="sh")
    ensemble = first.experiments.create_ensemble(["v1", "v2"], ensemble_id="en", min_agreements=1)
    serve(first, "t1", 50)
    first.experiments.stop("t1")
    first.stop()

    second = boot(runtimes, url)
    assert second.experiments.list() == {shadow: "shadow", ensemble: "ensemble"}
    assert second.experiments.report("t1") is None
    second.experiments.start_ab_test(["v1", "v2"], test_id="t1")
    assert sum(int(row[0]) for row in figures(second.experiments.report("t1"))) == 0  # type: ignore[call-overload]


def test_a_start_that_differs_from_the_stored_one_is_refused_by_name(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = boot(runtimes, url)
    first.experiments.start_ab_test(["v1", "v2"], test_id="t1", min_samples=50)
    second = boot(runtimes, url)  # another worker process of the same app, on the same file
    with pytest.raises(ConfigError, match="min_samples") as raised:
        second.experiments.start_ab_test(["v1", "v2"], test_id="t1", min_samples=80)
    assert raised.value.field == "min_samples"
    with pytest.raises(ConfigError, match="weights"):
        first.experiments.start_ab_test(["v1", "v2"], [30, 70], test_id="t1", min_samples=50)
    with pytest.raises(ConfigError, match="running ab_test"):
        second.experiments.start_shadow("v1", "v2", shadow_id="t1")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=needs_redis)])
def test_two_runtimes_on_one_store_report_the_totals_of_both(
    runtimes: Factory, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url, extra = server.url, {"state_namespace": f"two-{os.getpid()}-{id(tmp_path)}"}
    else:
        url, extra = sqlite_url(tmp_path), {}
    one, two = boot(runtimes, url, **extra), boot(runtimes, url, **extra)
    for rt in (one, two):
        assert rt.experiments.start_ab_test(["v1", "v2"], test_id="shared") == "shared"
    arms_one = serve(one, "shared", 300)
    arms_two = serve(two, "shared", 300, offset=7)
    assert all(arms_one[k] == v for k, v in arms_two.items() if k in arms_one)  # one arm per key everywhere

    def total(rt: ServingRuntime) -> int:
        return sum(int(row[0]) for row in figures(rt.experiments.report("shared")))  # type: ignore[call-overload]

    assert eventually(lambda: total(one) == 600 and total(two) == 600, timeout=10)


def run_worker(url: str, requests: int, mode: str, offset: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.adapters.state.ab_worker", url, str(requests), mode, str(offset)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=needs_redis)])
def test_two_processes_share_one_experiment(
    runtimes: Factory, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        url = server.url
        import redis

        client = redis.Redis(unix_socket_path=str(server.socket))
        for key in client.scan_iter("actorserve:*"):  # the workers use the default namespace
            client.delete(key)
        client.close()
    else:
        url = sqlite_url(tmp_path)
    workers = [run_worker(url, 300, "stop", offset) for offset in (0, 25)]
    views = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        views.append(json.loads(out.strip().splitlines()[-1])["arms"])
    shared_keys = set(views[0]) & set(views[1])
    assert shared_keys and all(views[0][k] == views[1][k] for k in shared_keys)
    rt = boot(runtimes, url)
    assert sum(int(row[0]) for row in figures(rt.experiments.report(TEST_ID))) == 600  # type: ignore[call-overload]


@pytest.mark.slow
def test_a_killed_process_loses_nothing_that_was_flushed(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    worker = run_worker(url, 1000, "hang")
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()  # blocks until the worker says the store has everything
        assert line.strip() == "flushed", worker.stderr.read() if worker.stderr else ""
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=10)  # reaps it and closes its pipes
    rt = boot(runtimes, url)
    assert rt.experiments.list() == {TEST_ID: "ab_test"}
    assert sum(int(row[0]) for row in figures(rt.experiments.report(TEST_ID))) == 1000  # type: ignore[call-overload]


@needs_redis
@pytest.mark.slow
def test_a_redis_that_stops_answering_costs_no_request_and_no_statistic(runtimes: Factory, tmp_path: Path) -> None:
    server = RedisServer(tmp_path)  # its own server: this test freezes it
    server.start()
    try:
        rt = boot(runtimes, server.url)
        test_id = rt.experiments.start_ab_test(["v1", "v2"], test_id="outage")
        serve(rt, test_id, 200)
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSTOP)  # a hung server: every call waits out its socket timeout
        try:
            for i in range(200):
                response = rt.experiments.serve(test_id, {"prompt": "hi"}, key=f"user-{i % 40}")
                assert response.success or response.error_code is not None
                assert response.error_code is None or response.error_code.value == "model_error"
            assert rt.experiments.settle(test_id)

            def unhealthy() -> bool:
                state = rt.health()["state"]
                return isinstance(state, dict) and state["healthy"] is False

            assert eventually(unhealthy, timeout=20)
            state = rt.health()["state"]
            assert isinstance(state, dict) and state["last_error"]
        finally:
            os.kill(server.process.pid, signal.SIGCONT)

        def flushed() -> bool:
            state = rt.health()["state"]
            return isinstance(state, dict) and state["healthy"] is True and state["pending"] == 0

        assert eventually(flushed, timeout=20)
        assert eventually(lambda: sum(int(r[0]) for r in figures(rt.experiments.report(test_id))) == 400, 20)  # type: ignore[call-overload]
        rt.stop()
        again = boot(runtimes, server.url)
        assert sum(int(r[0]) for r in figures(again.experiments.report(test_id))) == 400  # type: ignore[call-overload]
    finally:
        server.stop()


def drive_canary(rt: ServingRuntime, canary_id: str, until_step: int) -> dict[str, object]:
    for _ in range(5000):
        rt.experiments.serve(canary_id, {"prompt": "hi"})
        report = rt.experiments.report(canary_id)
        assert report is not None
        if report["step"] == until_step or report["state"] != "running":
            return report
    raise AssertionError("the canary never reached the step")


def test_a_canary_resumes_at_the_step_it_had_reached(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = runtimes(state=url, seed=3, flush_interval_s=0.05)
    for vid in ("base", "cand"):
        first.register(make_version(vid, parameters={"latency_ms": 1.0}))
    assert first.wait_ready("base", 5) and first.wait_ready("cand", 5)
    spec = {"steps": [10, 20, 30, 50, 100], "min_requests": 5, "max_p95_ratio": 100.0, "p95_slack_ms": 50.0}
    first.experiments.start_canary("base", "cand", canary_id="roll", **spec)  # type: ignore[arg-type]
    report = drive_canary(first, "roll", until_step=3)
    assert report["state"] == "running" and report["step"] == 3
    decisions = report["decisions"]
    first.stop()

    second = runtimes(state=url, seed=3, flush_interval_s=0.05)
    assert second.wait_ready("base", 5) and second.wait_ready("cand", 5)
    resumed = second.experiments.report("roll")
    assert resumed is not None
    assert (resumed["state"], resumed["step"]) == ("running", 3)
    assert resumed["decisions"] == decisions


def test_runtimes_sharing_a_canary_follow_the_one_that_holds_the_lease(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    spec = {"steps": [10, 50, 100], "min_requests": 5, "max_p95_ratio": 100.0, "p95_slack_ms": 50.0}
    shared = []
    for _ in range(2):
        rt = runtimes(state=url, seed=3, flush_interval_s=0.05)
        for vid in ("base", "cand"):
            rt.register(make_version(vid, parameters={"latency_ms": 1.0}))
        assert rt.wait_ready("base", 5) and rt.wait_ready("cand", 5)
        rt.experiments.start_canary("base", "cand", canary_id="roll", auto_unload=False, **spec)  # type: ignore[arg-type]
        shared.append(rt)
    leader, follower = shared
    report = drive_canary(leader, "roll", until_step=1)  # the first runtime took the lease at its start
    assert report["step"] == 1

    def follows() -> bool:
        seen = follower.experiments.report("roll")
        return seen is not None and seen["step"] == 1 and len(seen["decisions"]) == 1  # type: ignore[arg-type]

    assert eventually(follows, timeout=10)


def test_a_concluded_ab_test_stays_concluded_after_a_restart(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)

    def boot_arms() -> ServingRuntime:
        rt = runtimes(state=url, seed=11, flush_interval_s=0.05)
        rt.register(make_version("a", parameters={"error_rate": 0.30}))
        rt.register(make_version("b", number="2.0.0", parameters={"error_rate": 0.05}))
        assert rt.wait_ready("a", 5) and rt.wait_ready("b", 5)
        return rt

    first = boot_arms()
    args = {"success_metric": "error_rate", "min_samples": 50, "conclude": "stop", "test_id": "t1"}
    first.experiments.start_ab_test(["a", "b"], **args)  # type: ignore[arg-type]
    for _ in range(4000):
        first.experiments.serve("t1", {"prompt": "hi"})
        report = first.experiments.report("t1")
        if report is not None and report["concluded"]:
            break
    before = first.experiments.report("t1")
    assert before is not None and before["concluded"] is True
    first.stop()

    second = boot_arms()
    assert second.experiments.start_ab_test(["a", "b"], **args) == "t1"  # type: ignore[arg-type]
    after = second.experiments.report("t1")
    assert after is not None
    assert after["concluded"] is True and after["decisions"] == before["decisions"]
    assert figures(after) == figures(before)
    assert {second.experiments.serve("t1", {}).version_id for _ in range(10)} == {"a"}  # the control serves
    assert figures(second.experiments.report("t1")) == figures(before)


def test_an_outcome_counts_after_a_restart_and_in_another_runtime(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first, other = boot(runtimes, url), boot(runtimes, url)
    for rt in (first, other):
        rt.experiments.start_ab_test(["v1", "v2"], test_id="t1")
    served = [first.experiments.serve("t1", {"prompt": "hi"}, key=f"user-{i}") for i in range(6)]
    assert first.experiments.record_outcome("t1", served[0].request_id, 1.0)  # known here

    def remembered() -> bool:
        state = first.health()["state"]
        return isinstance(state, dict) and state["pending"] == 0

    assert eventually(remembered, timeout=10)
    # served by the other runtime: known there once the first one's next sync has written it
    assert eventually(lambda: other.experiments.record_outcome("t1", served[1].request_id, 1.0), timeout=10)
    assert not other.experiments.record_outcome("t1", "no-such-request", 1.0)
    first.stop()
    again = boot(runtimes, url)
    assert again.experiments.record_outcome("t1", served[2].request_id, 1.0)  # after a restart

    def conversions() -> int:
        report = again.experiments.report("t1")
        assert report is not None
        arms = report["arms"]
        assert isinstance(arms, list)
        return sum(int(arm["custom"].get("conversion", {}).get("n", 0)) for arm in arms)

    assert eventually(lambda: conversions() == 3, timeout=10)


def test_recorded_covariates_survive_a_restart(runtimes: Factory, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    first = boot(runtimes, url)
    first.experiments.start_ab_test(["v1", "v2"], test_id="t1", min_samples=10)
    for i in range(40):
        assert first.experiments.record_covariate("t1", f"user-{i}", float(i % 7))
    serve(first, "t1", 400)
    before = first.experiments.report("t1")
    assert before is not None and before["cuped"]
    first.stop()
    second = boot(runtimes, url)
    after = second.experiments.report("t1")
    assert after is not None
    assert after["cuped"] == before["cuped"]


@needs_redis
@pytest.mark.slow
def test_a_redis_killed_and_restarted_while_serving_loses_nothing_counted(runtimes: Factory, tmp_path: Path) -> None:
    server = RedisServer(tmp_path, durable=True)  # what it acknowledged survives its SIGKILL
    server.start()
    try:
        rt = boot(runtimes, server.url)
        test_id = rt.experiments.start_ab_test(["v1", "v2"], test_id="killed")
        serve(rt, test_id, 200)
        server.kill()
        for i in range(200):  # the store is gone: every request is still answered by its version
            response = rt.experiments.serve(test_id, {"prompt": "hi"}, key=f"user-{i % 40}")
            assert response.error_code is None or response.error_code.value == "model_error"

        def unhealthy() -> bool:
            state = rt.health()["state"]
            return isinstance(state, dict) and state["healthy"] is False

        assert eventually(unhealthy, timeout=20)
        server.start()  # the same socket, its data back from the append-only file

        def flushed() -> bool:
            state = rt.health()["state"]
            return isinstance(state, dict) and state["healthy"] is True and state["pending"] == 0

        assert eventually(flushed, timeout=20)
        rt.stop()
        again = boot(runtimes, server.url)
        assert sum(int(r[0]) for r in figures(again.experiments.report(test_id))) == 400  # type: ignore[call-overload]
    finally:
        server.stop()
