"""Hardening of the router and the experiment actors: no request's content kills an actor."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from actorserve.actors import ServingRuntime
from actorserve.domain import ErrorCode, ModelVersion
from actorserve.domain.abtest import ABTestSpec, assign
from actorserve.domain.ports import RandomSource
from actorserve.domain.routing import Candidate, RoutingPolicy, RoutingRule, make_policy
from tests.fakes import FakeInvoker, make_version

Factory = Callable[..., ServingRuntime]

SURROGATE = "\ud800"  # what surrogateescape decoding makes of a stray byte


def ready(rt: ServingRuntime, *versions: ModelVersion) -> None:
    for v in versions:
        assert rt.register(v)
        assert rt.wait_ready(v.version_id, 5)


def report_of(rt: ServingRuntime, experiment_id: str) -> dict[str, Any]:
    report = rt.experiments.report(experiment_id)
    assert report is not None
    return report


def experiment_threads() -> list[threading.Thread]:
    names = ("ABTestActor", "ShadowActor", "EnsembleActor", "CanaryActor")
    return [t for t in threading.enumerate() if t.name.startswith(names)]


# --- D1: the router ----------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["round_robin", "least_latency", "least_cost"])
def test_a_lone_surrogate_key_does_not_kill_the_router(runtimes: Factory, strategy: str) -> None:
    rt = runtimes(FakeInvoker(), seed=1)
    ready(rt, make_version("a"), make_version("b"))
    rt.set_routing("chat", strategy)
    first = rt.serve("chat", {}, key=SURROGATE)
    assert first.success, first.error
    assert {rt.serve("chat", {}, key=SURROGATE).version_id for _ in range(5)} == {first.version_id}
    assert rt.serve("chat", {}).success
    rt.stop(timeout=5)
    assert rt.threads() == []


class _ExplodingPolicy:
    """A policy with a bug that one key's content triggers."""

    def __init__(self, inner: RoutingPolicy) -> None:
        self._inner = inner

    def choose(self, candidates: Sequence[Candidate], key: str | None) -> Candidate:
        if key == "boom":
            raise ZeroDivisionError("division by zero")
        return self._inner.choose(candidates, key)


def test_a_routing_policy_that_raises_answers_that_request_and_the_router_lives_on(
    runtimes: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exploding(rule: RoutingRule | None, rng: RandomSource) -> RoutingPolicy:
        return _ExplodingPolicy(make_policy(rule, rng))

    monkeypatch.setattr("actorserve.actors.router.make_policy", exploding)
    rt = runtimes(FakeInvoker(), seed=1)
    ready(rt, make_version("a"), make_version("b"))
    rt.set_routing("chat", "round_robin")
    failed = rt.serve("chat", {}, key="boom")
    assert not failed.success
    assert failed.error_code is ErrorCode.MODEL_ERROR
    assert failed.error is not None and "ZeroDivisionError" in failed.error
    assert rt.serve("chat", {}, key="fine").success
    assert rt.serve("chat", {}).success


# --- D2: the A/B test ---------------------------------------------------------------


def test_a_lone_surrogate_key_does_not_kill_the_ab_test(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(), seed=1)
    ready(rt, make_version("a"), make_version("b"))
    test_id = rt.experiments.start_ab_test(["a", "b"])
    first = rt.experiments.serve(test_id, {}, key=SURROGATE)
    assert first.success, first.error
    assert {rt.experiments.serve(test_id, {}, key=SURROGATE).version_id for _ in range(5)} == {first.version_id}
    assert rt.experiments.serve(test_id, {}, key="user-1").success
    report = report_of(rt, test_id)
    assert sum(arm["requests"] for arm in report["arms"]) == 7
    rt.stop(timeout=5)
    assert rt.threads() == []


def test_an_assignment_that_raises_answers_that_request_and_the_ab_test_lives_on(
    runtimes: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exploding(spec: ABTestSpec, key: str | None, draw: float) -> int:
        if key == "boom":
            raise ValueError("cannot hash this key")
        return assign(spec, key, draw)

    monkeypatch.setattr("actorserve.actors.experiments.ab.assign", exploding)
    rt = runtimes(FakeInvoker(), seed=1)
    ready(rt, make_version("a"), make_version("b"))
    test_id = rt.experiments.start_ab_test(["a", "b"])
    failed = rt.experiments.serve(test_id, {}, key="boom")
    assert not failed.success
    assert failed.error_code is ErrorCode.MODEL_ERROR
    assert failed.error is not None and "cannot hash this key" in failed.error
    assert rt.experiments.serve(test_id, {}, key="user-1").success
    assert report_of(rt, test_id)["kind"] == "ab_test"
