"""A/B tests under live traffic: always-valid looks, auto-conclusion, promotion, the unit, CUPED, bad arguments.

Every run is seeded (the runtime's assignment and the simulated backend's
failures); each `serve` returns after the experiment was told the answer, so
a report read next counts it, with no sleep.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from actorserve.actors import ModelServingInfrastructure, ServingRuntime
from actorserve.adapters import SimulatedInvoker
from actorserve.domain import ConfigError, ModelVersion
from tests.fakes import FakeInvoker, make_version

Factory = Callable[..., ServingRuntime]


def ready(rt: ServingRuntime, *versions: ModelVersion) -> None:
    for v in versions:
        assert rt.register(v)
        assert rt.wait_ready(v.version_id, 5)


def report_of(rt: ServingRuntime, test_id: str) -> dict[str, Any]:
    report = rt.experiments.report(test_id)
    assert report is not None
    return report


def two_arms(rt: ServingRuntime, error_a: float, error_b: float) -> None:
    ready(
        rt,
        make_version("a", parameters={"error_rate": error_a}),
        make_version("b", parameters={"error_rate": error_b}),
    )


def serve_until_concluded(rt: ServingRuntime, test_id: str, limit: int, *, keys: int | None = None) -> int:
    """Serve up to `limit` requests, checking after each 50; returns how many were served."""
    for i in range(limit):
        key = f"user-{i % keys}" if keys else None
        rt.experiments.serve(test_id, {"prompt": str(i)}, key=key)
        if i % 50 == 49 and report_of(rt, test_id)["concluded"]:
            return i + 1
    return limit


def test_auto_conclusion_stops_a_test_with_a_real_difference(runtimes: Factory) -> None:
    rt = runtimes(SimulatedInvoker(seed=11), seed=11)
    two_arms(rt, 0.30, 0.05)
    test_id = rt.experiments.start_ab_test(["a", "b"], success_metric="error_rate", min_samples=50, conclude="stop")
    served = serve_until_concluded(rt, test_id, 4000)
    report = report_of(rt, test_id)
    assert report["concluded"] is True
    assert served < 4000
    assert report["ended"] is True
    assert (report["winner"], report["decided_by"]) == ("B", "sequential")
    (decision,) = report["decisions"]
    assert decision["outcome"] == "winner"
    assert decision["winner"] == "B"
    assert decision["action"] == "stop"
    assert decision["p_values"][0] <= 0.05
    assert decision["confidence_sequences"][0][1] < 0  # B's error rate is lower
    assert min(decision["n_per_arm"]) >= 50
    assert decision["at"]
    assert report["conclusion"] == decision
    assigned = [arm["assigned"] for arm in report["arms"]]
    after = Counter(rt.experiments.serve(test_id, {}).version_id for _ in range(20))
    assert after == {"a": 20}  # traffic stopped splitting: the control serves
    assert [arm["assigned"] for arm in report_of(rt, test_id)["arms"]] == assigned


def test_auto_conclusion_does_not_stop_an_aa_test(runtimes: Factory) -> None:
    rt = runtimes(SimulatedInvoker(seed=12), seed=12)
    two_arms(rt, 0.10, 0.10)
    test_id = rt.experiments.start_ab_test(["a", "b"], success_metric="error_rate", min_samples=50, conclude="stop")
    served = serve_until_concluded(rt, test_id, 3000)
    report = report_of(rt, test_id)
    assert served == 3000
    assert report["concluded"] is False
    assert report["decisions"] == []
    assert report["winner"] is None
    seq = report["sequential"]
    assert seq["status"] == "running"
    assert seq["comparisons"][0]["p_value"] > 0.05
    assert seq["looks"] > 2000  # it was read after every answer, and still did not decide
    assert report["ended"] is False


def test_a_tie_ends_as_futility_never_as_a_winner(runtimes: Factory) -> None:
    rt = runtimes(SimulatedInvoker(seed=13), seed=13)
    two_arms(rt, 0.10, 0.10)
    test_id = rt.experiments.start_ab_test(
        ["a", "b"], success_metric="error_rate", min_samples=50, mde=0.1, conclude="stop"
    )
    served = serve_until_concluded(rt, test_id, 4000)
    report = report_of(rt, test_id)
    assert report["concluded"] is True, served
    (decision,) = report["decisions"]
    assert (decision["outcome"], decision["winner"]) == ("futility", None)
    assert report["winner"] is None
    lo, hi = decision["confidence_sequences"][0]
    assert lo > -0.1 and hi < 0.1
    assert report["sequential"]["tau_source"] == "mde"


def test_promote_starts_a_canary_of_the_winner_that_takes_the_tests_traffic(runtimes: Factory) -> None:
    rt = runtimes(SimulatedInvoker(seed=14), seed=14)
    two_arms(rt, 0.30, 0.02)
    test_id = rt.experiments.start_ab_test(
        ["a", "b"], success_metric="error_rate", min_samples=50, conclude="promote", test_id="ab1"
    )
    serve_until_concluded(rt, test_id, 4000)
    conclusion = report_of(rt, test_id)["conclusion"]
    assert conclusion["action"] == "promote"
    promotion = conclusion["promotion"]
    assert promotion == {"canary_id": "ab1-promote", "baseline": "a", "candidate": "b"}
    assert rt.experiments.kind("ab1-promote") == "canary"

    def canary_counts() -> int:
        canary = report_of(rt, "ab1-promote")
        assert (canary["baseline"], canary["candidate"], canary["state"]) == ("a", "b", "running")
        return int(canary["baseline_requests"] + canary["candidate_step_requests"])

    before = canary_counts()  # the requests served since the decision already went through it
    for i in range(40):
        assert rt.experiments.serve(test_id, {"prompt": str(i)}).version_id in ("a", "b")
    assert canary_counts() == before + 40


def test_report_only_tests_record_the_first_decision_and_keep_splitting(runtimes: Factory) -> None:
    rt = runtimes(SimulatedInvoker(seed=15), seed=15)
    two_arms(rt, 0.30, 0.05)
    test_id = rt.experiments.start_ab_test(["a", "b"], success_metric="error_rate", min_samples=50)
    for i in range(1500):
        rt.experiments.serve(test_id, {"prompt": str(i)})
    report = report_of(rt, test_id)
    (decision,) = report["decisions"]
    assert (decision["outcome"], decision["action"]) == ("winner", "none")
    assert report["concluded"] is False
    assert report["ended"] is False
    assert sum(arm["assigned"] for arm in report["arms"]) == 1500


def test_with_sticky_keys_the_report_names_the_key_as_the_unit_and_gives_cuped(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(), seed=16)
    ready(rt, make_version("a"), make_version("b"))
    covariates = {f"user-{i}": float(i % 7) for i in range(0, 60, 2)}
    test_id = rt.experiments.start_ab_test(
        ["a", "b"], success_metric="conversion", min_samples=10, mde=0.2, covariates=covariates
    )
    for i in range(1, 60, 2):
        assert rt.experiments.record_covariate(test_id, f"user-{i}", float(i % 7))
    for n in range(240):
        key = f"user-{n % 60}"
        r = rt.experiments.serve(test_id, {}, key=key)
        converted = (n % 60) % 7 >= 3 or (r.version_id == "b" and n % 3 == 0)
        assert rt.experiments.record_outcome(test_id, r.request_id, 1.0 if converted else 0.0)
    report = report_of(rt, test_id)
    assert report["unit"] == "key"
    assert report["comparisons"]["conversion"][0]["kind"] == "ratio"
    cuped = report["cuped"]
    assert sum(cuped["covariate_units"]) == 60
    row = cuped["comparisons"][0]
    assert 0 < row["variance_reduction"] < 1
    assert row["std_error"] < row["unadjusted_std_error"]
    planning = report["planning"]
    assert planning["mde"] == 0.2
    assert planning["kind"] == "mean"
    assert planning["required_n_per_arm"] >= 1
    assert report["multiple_comparisons"]["family_alpha"] == 0.05
    seq = report["sequential"]
    assert {"p_value", "p_value_holm", "confidence_sequence", "decided", "tau"} <= set(seq["comparisons"][0])


def test_record_covariate_refuses_bad_values_and_unknown_tests(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(), seed=17)
    ready(rt, make_version("a"), make_version("b"))
    test_id = rt.experiments.start_ab_test(["a", "b"])
    assert rt.experiments.record_covariate("no-such-test", "u1", 1.0) is False
    with pytest.raises(ConfigError, match="^value:") as info:
        rt.experiments.record_covariate(test_id, "u1", float("inf"))
    assert info.value.field == "value"
    with pytest.raises(ConfigError, match="^key:"):
        rt.experiments.record_covariate(test_id, "", 1.0)
    rt.experiments.stop(test_id)
    assert rt.experiments.record_covariate(test_id, "u1", 1.0) is False


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tau": 0}, "tau"),
        ({"tau": -0.5}, "tau"),
        ({"mde": 0}, "mde"),
        ({"mde": 1.2}, "mde"),
        ({"mde": "big"}, "mde"),
        ({"conclude": "sometimes"}, "conclude"),
        ({"conclude": "promote", "sequential": False}, "conclude"),
        ({"power": 1.5}, "power"),
        ({"covariates": ["u1"]}, "covariates"),
    ],
)
def test_bad_sequential_arguments_raise_config_error_naming_the_field_and_start_nothing(
    runtimes: Factory, kwargs: dict[str, Any], field: str
) -> None:
    rt = runtimes(FakeInvoker())
    ready(rt, make_version("a"), make_version("b"))
    with pytest.raises(ConfigError, match=f"^{field}:") as info:
        rt.experiments.start_ab_test(["a", "b"], success_metric="error_rate", **kwargs)
    assert info.value.field == field
    assert rt.experiments.list() == {}


def test_the_facade_keeps_its_keys_first_and_appends_the_new_statistics(runtimes: Factory) -> None:
    rt = runtimes(SimulatedInvoker(seed=18), seed=18)
    ready(rt, make_version("a"), make_version("b"))
    infra = ModelServingInfrastructure(runtime=rt)
    test_id = infra.start_ab_test("a", "b")
    for i in range(80):
        infra.serve_ab_test_request(test_id, {"prompt": str(i)})
    result = infra.analyze_ab_test(test_id)
    keys = list(result)
    assert keys[:2] == ["test_id", "winner"]
    assert {"model_a_metrics", "model_b_metrics", "duration"} <= set(keys)
    new = ["decided_by", "unit", "sequential", "fixed_horizon", "multiple_comparisons", "planning", "cuped"]
    assert keys.index("duration") < min(keys.index(k) for k in new)
    assert result["decided_by"] == "sequential"
    assert result["unit"] == "request"
    assert "p_value" in result["sequential"]["comparisons"][0]
    assert result["concluded"] is False
