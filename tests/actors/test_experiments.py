from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from actorserve.actors import ServingRuntime
from actorserve.adapters import SimulatedInvoker
from actorserve.domain import ErrorCode, ModelResponse, ModelStatus, ModelType, ModelVersion
from tests.fakes import FakeInvoker, RecordingSink, SkewClock, VersionGatedInvoker, make_version, status

Factory = Callable[..., ServingRuntime]


def report_of(rt: ServingRuntime, experiment_id: str) -> dict[str, Any]:
    report = rt.experiments.report(experiment_id)
    assert report is not None
    return report


def ready(rt: ServingRuntime, *versions: ModelVersion) -> None:
    for v in versions:
        assert rt.register(v)
        assert rt.wait_ready(v.version_id, 5)


# --- A/B tests -------------------------------------------------------------------


def test_ab_test_splits_by_weight_and_keeps_keys_sticky(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(), seed=7)
    ready(rt, make_version("a"), make_version("b"))
    test_id = rt.experiments.start_ab_test(["a", "b"], [80, 20])
    counts = Counter(rt.experiments.serve(test_id, {}).version_id for _ in range(500))
    assert 0.72 < counts["a"] / 500 < 0.88
    for key in ("u1", "u2", "u3"):
        assert len({rt.experiments.serve(test_id, {}, key=key).version_id for _ in range(10)}) == 1


def test_ab_test_finds_the_arm_with_fewer_errors(runtimes: Factory) -> None:
    rt = runtimes(SimulatedInvoker(seed=3), seed=3)
    ready(rt, make_version("a", parameters={"error_rate": 0.2}), make_version("b", parameters={"error_rate": 0.02}))
    test_id = rt.experiments.start_ab_test(["a", "b"], success_metric="error_rate", min_samples=300)
    for i in range(1200):
        rt.experiments.serve(test_id, {"prompt": str(i)})
    report = report_of(rt, test_id)
    assert report["winner"] == "B"
    arms = report["arms"]
    assert [a["requests"] for a in arms] == [a["assigned"] for a in arms]
    assert sum(a["requests"] for a in arms) == 1200
    assert report["sample_ratio_mismatch"]["mismatch"] is False


def test_business_outcomes_are_attributed_to_the_right_arm(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(), seed=1)
    ready(rt, make_version("a"), make_version("b"))
    test_id = rt.experiments.start_ab_test(["a", "b"], success_metric="conversion", min_samples=2)
    for i in range(40):
        r = rt.experiments.serve(test_id, {}, key=f"user-{i}")
        assert rt.experiments.record_outcome(test_id, r.request_id, 1.0 if r.version_id == "b" else 0.0)
    assert rt.experiments.record_outcome(test_id, "unknown-request", 1.0) is False
    assert rt.experiments.record_outcome("unknown-test", "x", 1.0) is False
    with pytest.raises(ValueError, match="^value"):
        rt.experiments.record_outcome(test_id, "x", float("nan"))
    report = report_of(rt, test_id)
    arms = report["arms"]
    assert arms[0]["custom"]["conversion"]["mean"] == 0.0
    assert arms[1]["custom"]["conversion"]["mean"] == 1.0
    assert report["winner"] == "B"


def test_after_its_duration_an_ab_test_stops_assigning_and_freezes(runtimes: Factory) -> None:
    clock = SkewClock()
    rt = runtimes(FakeInvoker(), clock=clock)
    ready(rt, make_version("a"), make_version("b"))
    test_id = rt.experiments.start_ab_test(["a", "b"], duration_s=60.0)
    for _ in range(20):
        rt.experiments.serve(test_id, {})
    clock.advance(61.0)
    assert {rt.experiments.serve(test_id, {}).version_id for _ in range(10)} == {"a"}  # the control
    report = report_of(rt, test_id)
    assert report["ended"] is True
    assert sum(a["assigned"] for a in report["arms"]) == 20


# --- shadows ---------------------------------------------------------------------


def test_a_hanging_shadow_changes_nothing_the_caller_sees_and_excess_copies_are_dropped(runtimes: Factory) -> None:
    gate = threading.Event()
    rt = runtimes(VersionGatedInvoker(FakeInvoker(), {"s"}, gate))
    ready(rt, make_version("p"), make_version("s", model_name="next"))
    shadow_id = rt.experiments.start_shadow("p", "s", queue_size=4)
    answers = [rt.experiments.serve(shadow_id, {"i": i}) for i in range(20)]
    assert all(a.success and a.version_id == "p" for a in answers)
    report = report_of(rt, shadow_id)
    assert (report["mirrored"], report["dropped"], report["outstanding"]) == (4, 16, 4)
    gate.set()


@pytest.mark.slow
def test_a_hanging_shadow_keeps_primary_p99_within_budget(runtimes: Factory) -> None:
    gate = threading.Event()
    rt = runtimes(VersionGatedInvoker(FakeInvoker(latency=0.003), {"s"}, gate))
    ready(rt, make_version("p", replicas=2), make_version("s", model_name="next"))
    shadow_id = rt.experiments.start_shadow("p", "s", queue_size=8)
    plain_id = rt.experiments.start_shadow("p", "s", traffic_percentage=0.0)  # same path, no copies

    def p99(xs: list[float]) -> float:
        return sorted(xs)[int(len(xs) * 0.99) - 1]

    # A shadow that slowed the primary would do so on every attempt; a busy machine's
    # scheduling noise rarely lands on the same side three times, so up to three tries.
    attempts = []
    for _ in range(3):
        base: list[float] = []
        shadowed: list[float] = []
        for i in range(300):  # interleaved, so drift on a shared machine hits both alike
            base.append(rt.experiments.serve(plain_id, {"i": i}).latency_ms)
            shadowed.append(rt.experiments.serve(shadow_id, {"i": i}).latency_ms)
        attempts.append((p99(shadowed), p99(base)))
        if p99(shadowed) <= max(1.2 * p99(base), p99(base) + 2.0):
            break
    else:
        pytest.fail(f"shadowed p99 over budget on every attempt (shadowed, base): {attempts}")
    gate.set()


def test_shadow_compares_outputs_errors_and_latency(runtimes: Factory) -> None:
    rt = runtimes(SimulatedInvoker(seed=5))
    ready(
        rt,
        make_version("p", model_type=ModelType.CUSTOM_MODEL, model_name="m"),
        make_version("s", model_type=ModelType.CUSTOM_MODEL, model_name="m", parameters={"error_rate": 0.5}),
    )
    shadow_id = rt.experiments.start_shadow("p", "s")
    for i in range(60):
        assert rt.experiments.serve(shadow_id, {"i": i}).success
    assert rt.experiments.settle(shadow_id, timeout=5)  # every copy answered
    stopped = rt.experiments.stop(shadow_id)
    assert stopped is not None
    report: dict[str, Any] = stopped
    assert report["agreement_rate"] == 1.0  # same model name, same output when both succeed
    assert 0.3 < report["shadow_error_rate"] < 0.7
    assert report["primary_error_rate"] == 0.0
    assert report["comparisons_count"] == 60
    assert report["only_shadow_failed"] == round(report["shadow_error_rate"] * 60)


# --- ensembles -------------------------------------------------------------------


def test_an_ensemble_fans_out_in_parallel(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = runtimes(invoker)
    ready(rt, *(make_version(f"e{i}", model_name="m") for i in range(3)))
    ensemble_id = rt.experiments.create_ensemble(["e0", "e1", "e2"], min_agreements=3)
    done = threading.Event()
    result = []

    def call() -> None:
        result.append(rt.experiments.serve(ensemble_id, {"x": 1}))
        done.set()

    threading.Thread(target=call).start()
    for _ in range(3):  # all three members start while none has finished
        assert invoker.started.acquire(timeout=5)
    assert not done.is_set()
    gate.set()
    assert done.wait(5)
    assert result[0].success
    assert result[0].output_data == {"echo": {"x": 1}, "out": "ok"}


def test_an_ensemble_answers_once_decided_without_waiting_for_a_hung_member(runtimes: Factory) -> None:
    gate = threading.Event()
    rt = runtimes(VersionGatedInvoker(FakeInvoker(), {"slow"}, gate))
    ready(
        rt, make_version("f1", model_name="m"), make_version("f2", model_name="m"), make_version("slow", model_name="m")
    )
    ensemble_id = rt.experiments.create_ensemble(["f1", "f2", "slow"], min_agreements=2)
    r = rt.experiments.serve(ensemble_id, {"x": 2}, timeout_ms=60_000)
    assert r.success
    assert r.model_id == f"ensemble-{ensemble_id}"
    report = report_of(rt, ensemble_id)
    assert report["decided_before_all_members"] == 1
    gate.set()


def test_an_ensemble_averages_numeric_outputs(runtimes: Factory) -> None:
    rt = runtimes(SimulatedInvoker(seed=1))
    ready(rt, *(make_version(f"v{i}", model_name="emb", model_type=ModelType.EMBEDDING_MODEL) for i in range(3)))
    ensemble_id = rt.experiments.create_ensemble(["v0", "v1", "v2"], aggregation_method="averaging")
    r = rt.experiments.serve(ensemble_id, {"text": "hello"})
    single = rt.serve("emb", {"text": "hello"}, version_id="v0")
    assert r.success
    assert isinstance(r.output_data, dict)
    assert isinstance(single.output_data, dict)
    assert r.output_data["embedding"] == pytest.approx(single.output_data["embedding"])


def test_stopping_an_ensemble_answers_what_it_holds(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = runtimes(invoker)
    ready(rt, make_version("e1", model_name="m"), make_version("e2", model_name="m"))
    ensemble_id = rt.experiments.create_ensemble(["e1", "e2"])
    answers: list[ModelResponse] = []
    t = threading.Thread(target=lambda: answers.append(rt.experiments.serve(ensemble_id, {}, timeout_ms=60_000)))
    t.start()
    for _ in range(2):  # both members are running: the ensemble holds the request
        assert invoker.started.acquire(timeout=5)
    final = rt.experiments.stop(ensemble_id)
    assert final is not None
    assert final["in_flight"] == 0
    t.join(5)
    assert answers[0].error_code is ErrorCode.UNAVAILABLE
    assert rt.experiments.serve(ensemble_id, {}).error_code is ErrorCode.NOT_FOUND
    gate.set()


# --- canaries --------------------------------------------------------------------


def test_a_good_canary_is_promoted_step_by_step_and_the_baseline_drains(runtimes: Factory) -> None:
    sink = RecordingSink()
    rt = runtimes(FakeInvoker(), seed=2, metrics_sink=sink)
    base, cand = make_version("base"), make_version("cand", number="2")
    ready(rt, base, cand)
    canary_id = rt.experiments.start_canary("base", "cand", steps=(10, 50, 100), min_requests=30)
    for _ in range(2000):
        assert rt.experiments.serve(canary_id, {}).success
        report = report_of(rt, canary_id)
        if report["state"] != "running":
            break
    assert report["state"] == "promoted"
    decisions = report["decisions"]
    assert [d["action"] for d in decisions] == ["advance", "advance", "promote"]
    assert all(d["candidate_requests"] >= 30 for d in decisions)
    assert sink.wait_for("base", ModelStatus.STOPPED)
    assert {rt.experiments.serve(canary_id, {}).version_id for _ in range(5)} == {"cand"}


def test_a_failing_canary_rolls_back_by_itself(runtimes: Factory) -> None:
    sink = RecordingSink()
    rt = runtimes(SimulatedInvoker(seed=4), seed=4, metrics_sink=sink)
    ready(rt, make_version("base"), make_version("cand", number="2", parameters={"error_rate": 0.5}))
    canary_id = rt.experiments.start_canary("base", "cand", steps=(50, 100), min_requests=40)
    for i in range(1000):
        rt.experiments.serve(canary_id, {"prompt": str(i)})
        report = report_of(rt, canary_id)
        if report["state"] != "running":
            break
    assert report["state"] == "rolled_back"
    decision = report["decisions"][-1]
    assert decision["action"] == "rollback"
    assert decision["candidate_error_rate"] > decision["baseline_error_rate"] + 0.02
    assert "error rate" in decision["reason"]
    assert sink.wait_for("cand", ModelStatus.STOPPED)
    base_version = rt.get_version("base")
    assert base_version is not None
    assert status(base_version) is ModelStatus.READY


# --- bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "field"),
    [
        (lambda e: e.start_ab_test(["a", "a"]), "arms"),
        (lambda e: e.start_ab_test(["a", "ghost"]), "arms"),
        (lambda e: e.start_ab_test(["a", "b"], [0, 0]), "weights"),
        (lambda e: e.start_ab_test(["a", "b"], [150, -50]), "weights"),
        (lambda e: e.start_shadow("a", "a"), "shadow_model_id"),
        (lambda e: e.start_shadow("a", "b", traffic_percentage=101), "traffic_percentage"),
        (lambda e: e.start_shadow("ghost", "b"), "primary_model_id"),
        (lambda e: e.create_ensemble(["a"]), "model_versions"),
        (lambda e: e.create_ensemble(["a", "b"], min_agreements=3), "min_agreements"),
        (lambda e: e.create_ensemble(["a", "b"], weights={"c": 1.0}), "weights"),
        (lambda e: e.start_canary("a", "a"), "candidate"),
        (lambda e: e.start_canary("a", "b", steps=(50, 10, 100)), "steps"),
        (lambda e: e.start_canary("a", "ghost"), "candidate"),
    ],
)
def test_bad_experiments_raise_naming_the_field_and_start_nothing(
    runtimes: Factory, start: Callable[..., object], field: str
) -> None:
    rt = runtimes(FakeInvoker())
    ready(rt, make_version("a"), make_version("b"))
    with pytest.raises(ValueError, match=rf"^{field}"):
        start(rt.experiments)
    assert rt.experiments.list() == {}


def test_unknown_experiments_answer_not_found(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())
    assert rt.experiments.serve("nope", {}).error_code is ErrorCode.NOT_FOUND
    assert rt.experiments.report("nope") is None
    assert rt.experiments.stop("nope") is None


def test_runtime_stop_stops_every_experiment(baseline_threads: set[threading.Thread]) -> None:
    rt = ServingRuntime(FakeInvoker())
    ready(rt, make_version("a"), make_version("b"))
    rt.experiments.start_ab_test(["a", "b"])
    rt.experiments.start_shadow("a", "b")
    rt.stop()
    assert rt.experiments.list() == {}
    assert set(threading.enumerate()) <= baseline_threads
