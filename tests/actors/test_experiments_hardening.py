"""Hardening of the router and the experiment actors: no request's content kills an actor."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from actorserve.actors import ServingRuntime
from actorserve.actors.clock import SystemClock
from actorserve.actors.experiments.api import Experiments
from actorserve.adapters import SimulatedInvoker
from actorserve.domain import ErrorCode, ModelRequest, ModelStatus, ModelVersion
from actorserve.domain.abtest import ABTestSpec, assign
from actorserve.domain.ports import InvocationResult, RandomSource
from actorserve.domain.routing import Candidate, RoutingPolicy, RoutingRule, make_policy
from tests.fakes import FakeInvoker, eventually, make_version, status

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


# --- D5: shadow comparisons of numpy outputs --------------------------------------


class _Uncomparable:
    """An output whose equality check raises, like a numpy array's truth value."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("The truth value of an array with more than one element is ambiguous")

    __hash__ = object.__hash__


class _FreshOutputInvoker(FakeInvoker):
    """Answers each request with a new `_Uncomparable` (one shared object would compare equal by identity)."""

    def invoke_batch(
        self, handle: object, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        return [InvocationResult(output={"value": _Uncomparable()}) for _ in requests]


@pytest.mark.parametrize(
    "output",
    [np.array([0.1, 0.2, 0.3]), np.float32(0.5), np.int64(3), {"scores": np.array([[1.0, 2.0]])}],
    ids=["array", "float32", "int64", "dict-of-array"],
)
def test_a_shadow_compares_numpy_outputs_and_every_primary_answer_succeeds(runtimes: Factory, output: object) -> None:
    rt = runtimes(FakeInvoker(output=output))
    ready(rt, make_version("a"), make_version("b"))
    shadow_id = rt.experiments.start_shadow("a", "b")
    answers = [rt.experiments.serve(shadow_id, {"i": i}) for i in range(10)]
    assert all(r.success and r.version_id == "a" for r in answers), [r.error for r in answers]
    assert rt.experiments.settle(shadow_id, 5)
    report = report_of(rt, shadow_id)
    assert report["comparisons_count"] == 10
    assert report["agreement_rate"] == 1.0
    assert report["agreement_rate_within_tolerance"] == 1.0
    assert report["comparison_errors"] == 0


def test_a_comparison_that_raises_is_counted_and_the_primary_still_answers(runtimes: Factory) -> None:
    rt = runtimes(_FreshOutputInvoker())
    ready(rt, make_version("a"), make_version("b"))
    shadow_id = rt.experiments.start_shadow("a", "b")
    answers = [rt.experiments.serve(shadow_id, {"i": i}) for i in range(5)]
    assert all(r.success for r in answers), [r.error for r in answers]
    assert rt.experiments.settle(shadow_id, 5)
    report = report_of(rt, shadow_id)
    assert report["comparisons_count"] == 5
    assert report["comparison_errors"] == 5
    assert report["agreement_rate"] == 0.0


def test_a_shadow_of_two_simulated_versions_of_one_model_agrees_on_the_prediction(runtimes: Factory) -> None:
    rt = runtimes(SimulatedInvoker(seed=1))
    ready(rt, make_version("a", number="1.0.0"), make_version("b", number="2.0.0"))
    shadow_id = rt.experiments.start_shadow("a", "b")
    for i in range(5):
        assert rt.experiments.serve(shadow_id, {"prompt": f"p{i}"}).success
    assert rt.experiments.settle(shadow_id, 5)
    assert report_of(rt, shadow_id)["agreement_rate"] == 1.0


# --- D6: each fan-out gets its own input -------------------------------------------


class _MutatingInvoker(FakeInvoker):
    """Version `mutator` edits its input in place; the others wait until it has, then echo theirs."""

    def __init__(self, mutator: str) -> None:
        super().__init__()
        self.mutator = mutator
        self.mutated = threading.Event()

    def invoke_batch(
        self, handle: object, requests: Sequence[ModelRequest], timeout_s: float
    ) -> Sequence[InvocationResult]:
        assert isinstance(handle, dict)
        if handle["version"] == self.mutator:
            for r in requests:
                items = r.input_data["items"]
                assert isinstance(items, list)
                items.append("edited by the backend")
                r.input_data["extra"] = True
            self.mutated.set()
        else:
            assert self.mutated.wait(5), "the mutating backend never ran"
        return super().invoke_batch(handle, requests, timeout_s)


def test_a_shadow_backend_that_edits_its_input_leaves_the_primary_answer_alone(runtimes: Factory) -> None:
    rt = runtimes(_MutatingInvoker(mutator="b"))
    ready(rt, make_version("a"), make_version("b"))
    shadow_id = rt.experiments.start_shadow("a", "b")
    data: dict[str, object] = {"items": [1, 2]}
    r = rt.experiments.serve(shadow_id, data)
    assert r.success, r.error
    assert r.output_data == {"echo": {"items": [1, 2]}, "out": "ok"}
    assert rt.experiments.settle(shadow_id, 5)


def test_an_ensemble_member_that_edits_its_input_leaves_the_other_members_alone(runtimes: Factory) -> None:
    rt = runtimes(_MutatingInvoker(mutator="b"))
    ready(rt, make_version("a"), make_version("b"))
    ensemble_id = rt.experiments.create_ensemble(["a", "b"], vote_on="out")
    data: dict[str, object] = {"items": [1, 2]}
    r = rt.experiments.serve(ensemble_id, data)
    assert r.success, r.error
    assert r.output_data == {"echo": {"items": [1, 2]}, "out": "ok"}
    assert data == {"items": [1, 2]}


class _Uncopyable:
    def __deepcopy__(self, memo: dict[int, object]) -> _Uncopyable:
        raise TypeError("cannot pickle '_thread.lock' object")


def test_an_input_that_cannot_be_copied_is_still_served_by_shadow_and_ensemble(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())
    ready(rt, make_version("a"), make_version("b"))
    shadow_id = rt.experiments.start_shadow("a", "b")
    ensemble_id = rt.experiments.create_ensemble(["a", "b"], aggregation_method="first_success")
    assert rt.experiments.serve(shadow_id, {"x": _Uncopyable()}).success
    assert rt.experiments.serve(ensemble_id, {"x": _Uncopyable()}).success
    assert rt.experiments.settle(shadow_id, 5)
    assert report_of(rt, shadow_id)["comparisons_count"] == 1


# --- D7: ensembles over awkward outputs --------------------------------------------


def test_ensemble_outputs_with_mixed_key_types_are_voted_on(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(output={1: "one", "two": 2, (3, 4): None}))
    ready(rt, make_version("a"), make_version("b"))
    ensemble_id = rt.experiments.create_ensemble(["a", "b"])
    for _ in range(3):
        r = rt.experiments.serve(ensemble_id, {})
        assert r.success, r.error
    assert report_of(rt, ensemble_id)["successes"] == 3


class _Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("repr failed")


def test_an_aggregation_that_raises_answers_model_error_and_the_ensemble_lives_on(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(output=_Unprintable()))
    ready(rt, make_version("a"), make_version("b"))
    ensemble_id = rt.experiments.create_ensemble(["a", "b"])
    for _ in range(3):
        r = rt.experiments.serve(ensemble_id, {}, timeout_ms=5000)
        assert r.error_code is ErrorCode.MODEL_ERROR, r.error
    report = report_of(rt, ensemble_id)
    assert report["failures_by_code"] == {"model_error": 3}


# --- voting on the prediction ------------------------------------------------------


@pytest.mark.parametrize("method", ["voting", "weighted_voting"])
def test_a_voting_ensemble_of_simulated_versions_of_one_model_reaches_its_quorum(
    runtimes: Factory, method: str
) -> None:
    rt = runtimes(SimulatedInvoker(seed=1))
    versions = [make_version(f"v{i}", number=f"{i}.0.0") for i in (1, 2, 3)]
    ready(rt, *versions)
    weights = {"v1": 1.0, "v2": 2.0, "v3": 1.0} if method == "weighted_voting" else None
    ensemble_id = rt.experiments.create_ensemble(["v1", "v2", "v3"], aggregation_method=method, weights=weights)
    r = rt.experiments.serve(ensemble_id, {"prompt": "hi"})
    assert r.success, r.error
    assert isinstance(r.output_data, dict)
    assert r.output_data["text"] == "Generated response for: hi"


def test_a_voting_ensemble_votes_on_the_configured_field(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(output={"prediction": {"class": "cat"}, "request_seq": 1}))
    ready(rt, make_version("a"), make_version("b"))
    ensemble_id = rt.experiments.create_ensemble(["a", "b"], vote_on="out.prediction.class")
    r = rt.experiments.serve(ensemble_id, {})
    assert r.success, r.error
    assert report_of(rt, ensemble_id)["vote_on"] == "out.prediction.class"


def test_a_bad_vote_on_is_refused_naming_the_field(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())
    ready(rt, make_version("a"), make_version("b"))
    with pytest.raises(ValueError, match="^vote_on"):
        rt.experiments.create_ensemble(["a", "b"], vote_on="out..x")


# --- D9: starting an experiment while the runtime stops ----------------------------


def _starts(x: Experiments) -> dict[str, Callable[[], str]]:
    return {
        "ab_test": lambda: x.start_ab_test(["a", "b"]),
        "shadow": lambda: x.start_shadow("a", "b"),
        "ensemble": lambda: x.create_ensemble(["a", "b"]),
        "canary": lambda: x.start_canary("a", "b", auto_unload=False),
    }


def _race_start_against_stop(start: str) -> list[BaseException]:
    """Start experiments back to back on one thread while the runtime stops; what ended the starts."""
    rt = ServingRuntime(FakeInvoker(), seed=1)
    ready(rt, make_version("a"), make_version("b"))
    begin = _starts(rt.experiments)[start]
    first_started = threading.Event()
    errors: list[BaseException] = []

    def keep_starting() -> None:
        try:
            while True:
                begin()
                first_started.set()
        except (RuntimeError, ValueError, TimeoutError) as exc:
            errors.append(exc)
        finally:
            first_started.set()

    starter = threading.Thread(target=keep_starting, name="racing-starter")
    starter.start()
    assert first_started.wait(5)
    rt.stop(timeout=5)
    starter.join(5)
    assert not starter.is_alive()
    assert rt.threads() == []
    assert experiment_threads() == []
    return errors


@pytest.mark.parametrize("start", ["ab_test", "shadow", "ensemble", "canary"])
def test_an_experiment_started_while_the_runtime_stops_never_outlives_stop(start: str) -> None:
    for _ in range(15):
        errors = _race_start_against_stop(start)
        assert len(errors) == 1
        assert isinstance(errors[0], RuntimeError), errors[0]
        assert "the runtime is stopped" in str(errors[0])


class _StallingClock(SystemClock):
    """A real clock that holds the first reading taken on `thread_name` until `until()` holds (or `patience_s`).

    The first reading a start takes is in the experiment actor's constructor,
    between the start's "is the runtime open?" check and its bookkeeping: the
    window a stop must not slip through.
    """

    def __init__(self, thread_name: str, patience_s: float) -> None:
        self.thread_name = thread_name
        self.patience_s = patience_s
        self.until: Callable[[], bool] = lambda: True
        self.stalled = threading.Event()
        self._armed = True

    def monotonic(self) -> float:
        if self._armed and threading.current_thread().name == self.thread_name:
            self._armed = False
            self.stalled.set()
            eventually(self.until, self.patience_s)
        return time.monotonic()


@pytest.mark.parametrize("start", ["ab_test", "shadow", "ensemble", "canary"])
def test_a_start_caught_midway_by_stop_is_stopped_with_the_runtime(start: str) -> None:
    clock = _StallingClock("stalled-starter", patience_s=0.3)
    rt = ServingRuntime(FakeInvoker(), seed=1, clock=clock)
    version = make_version("a")
    ready(rt, version, make_version("b"))
    # hold the start until stop() is well under way (its versions drain), or until patience runs out
    clock.until = lambda: status(version) is not ModelStatus.READY
    outcome: list[object] = []

    def start_one() -> None:
        try:
            outcome.append(_starts(rt.experiments)[start]())
        except RuntimeError as exc:
            outcome.append(exc)

    starter = threading.Thread(target=start_one, name="stalled-starter")
    starter.start()
    assert clock.stalled.wait(5)
    rt.stop(timeout=5)
    starter.join(5)
    assert not starter.is_alive()
    assert len(outcome) == 1
    assert rt.threads() == []
    assert experiment_threads() == []
