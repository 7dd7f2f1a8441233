from __future__ import annotations

import pytest

from actorserve.domain import ErrorCode
from actorserve.domain.canary import CanarySpec, Window, evaluate
from actorserve.domain.ensemble import EnsembleSpec, Vote, average, decide
from actorserve.domain.shadow import ShadowStats, outputs_agree


def ens(method: str = "voting", n: int = 3, quorum: int = 2, weights: tuple[float, ...] = ()) -> EnsembleSpec:
    return EnsembleSpec(tuple(f"m{i}" for i in range(n)), method, weights, quorum)


def test_voting_answers_as_soon_as_the_result_cannot_change() -> None:
    spec = ens(n=3, quorum=2)
    assert decide(spec, [Vote(True, "cat"), None, None]) is None
    decided = decide(spec, [Vote(True, "cat"), Vote(True, "cat"), None])
    assert decided is not None
    assert decided.output == "cat"
    assert decided.agreeing == (0, 1)


def test_voting_waits_while_a_tie_could_still_break() -> None:
    spec = ens(n=4, quorum=2)
    assert decide(spec, [Vote(True, "a"), Vote(True, "a"), Vote(True, "b"), None]) is None
    final = decide(spec, [Vote(True, "a"), Vote(True, "a"), Vote(True, "b"), Vote(True, "b")])
    assert final is not None
    assert final.error_code is ErrorCode.MODEL_ERROR
    assert "tied" in (final.error or "")


def test_an_unreachable_quorum_fails_at_once_with_a_clear_error() -> None:
    spec = ens(n=3, quorum=3)
    decided = decide(spec, [Vote(False), None, None])
    assert decided is not None
    assert decided.error_code is ErrorCode.MODEL_ERROR
    assert decided.error == "Quorum not reached: 0 of 3 members agree, 3 needed"
    disagree = decide(ens(n=3, quorum=2), [Vote(True, "a"), Vote(True, "b"), Vote(True, "c")])
    assert disagree is not None
    assert "Quorum not reached" in (disagree.error or "")


def test_weighted_voting_lets_heavy_members_win() -> None:
    spec = ens("weighted_voting", n=3, quorum=1, weights=(5.0, 1.0, 1.0))
    decided = decide(spec, [Vote(True, "x"), Vote(True, "y"), Vote(True, "y")])
    assert decided is not None
    assert decided.output == "x"


def test_averaging_combines_numbers_lists_and_probability_dicts() -> None:
    assert average([1.0, 2.0, 6.0], [1, 1, 1]) == pytest.approx(3.0)
    assert average([[0.2, 0.8], [0.4, 0.6]], [1, 1]) == pytest.approx([0.3, 0.7])
    probs = average([{"label": "cat", "p": [0.9, 0.1]}, {"label": "cat", "p": [0.7, 0.3]}], [3, 1])
    assert probs == {"label": "cat", "p": pytest.approx([0.85, 0.15])}
    with pytest.raises(ValueError, match="different lengths"):
        average([[1, 2], [1]], [1, 1])


def test_averaging_waits_for_everyone_then_needs_the_quorum() -> None:
    spec = ens("averaging", n=3, quorum=2)
    assert decide(spec, [Vote(True, 1.0), Vote(True, 3.0), None]) is None
    decided = decide(spec, [Vote(True, 1.0), Vote(True, 3.0), Vote(False)])
    assert decided is not None
    assert decided.output == pytest.approx(2.0)
    assert decide(spec, [Vote(True, 1.0), Vote(False), Vote(False)]).error_code is ErrorCode.MODEL_ERROR  # type: ignore[union-attr]


def test_first_success_takes_the_first_good_answer() -> None:
    spec = ens("first_success", n=3, quorum=1)
    assert decide(spec, [Vote(False), None, None]) is None
    assert decide(spec, [Vote(False), Vote(True, "ok"), None]).output == "ok"  # type: ignore[union-attr]
    assert decide(spec, [Vote(False)] * 3).error == "No ensemble member succeeded"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"members": ("a",)}, "model_versions"),
        ({"members": ("a", "a")}, "model_versions"),
        ({"method": "stacking"}, "aggregation_method"),
        ({"min_agreements": 4}, "min_agreements"),
        ({"min_agreements": 0}, "min_agreements"),
        ({"weights": (1.0,)}, "weights"),
        ({"weights": (0.0, 0.0, 0.0)}, "weights"),
    ],
)
def test_invalid_ensembles_raise_naming_the_field(kw: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"members": ("a", "b", "c"), "method": "voting", "weights": (), "min_agreements": 2}
    args.update(kw)
    with pytest.raises(ValueError, match=rf"^{field}:"):
        EnsembleSpec(**args)  # type: ignore[arg-type]


def test_outputs_agree_within_tolerance_recursively() -> None:
    assert outputs_agree({"p": [0.1, 0.9]}, {"p": [0.1000001, 0.8999999]}, rel_tol=1e-4, abs_tol=1e-6)
    assert not outputs_agree({"p": [0.1, 0.9]}, {"p": [0.2, 0.8]}, rel_tol=1e-4, abs_tol=1e-6)
    assert not outputs_agree({"a": 1}, {"b": 1}, rel_tol=0.1, abs_tol=0.1)
    assert not outputs_agree(True, 1, rel_tol=0, abs_tol=0)


def test_shadow_stats_count_agreement_errors_and_latency_deltas() -> None:
    stats = ShadowStats(recent_limit=5)
    ok: dict[str, object] = {"success": True, "output": {"y": 1.0}, "latency_ms": 10.0, "error_code": None}
    near: dict[str, object] = {"success": True, "output": {"y": 1.0000001}, "latency_ms": 14.0, "error_code": None}
    far: dict[str, object] = {"success": True, "output": {"y": 2.0}, "latency_ms": 12.0, "error_code": None}
    failed: dict[str, object] = {"success": False, "output": None, "latency_ms": 1.0, "error_code": "model_error"}
    for shadow in (ok, near, far, failed):
        stats.record(ok, shadow, rel_tol=1e-4, abs_tol=1e-6, at="t")
    report = stats.report()
    assert report["comparisons_count"] == 4
    assert report["agreement_rate"] == pytest.approx(1 / 3)
    assert report["agreement_rate_within_tolerance"] == pytest.approx(2 / 3)
    assert report["only_shadow_failed"] == 1
    assert len(report["recent_disagreements"]) == 1  # type: ignore[arg-type]
    assert report["recent_disagreements"][0]["shadow_output"] == {"y": 2.0}  # type: ignore[index]


def window(requests: int, errors: int, latency: float) -> Window:
    w = Window()
    for i in range(requests):
        w.record(success=i >= errors, latency_ms=latency)
    return w


def test_the_canary_gate_waits_for_the_minimum_then_judges_errors_and_p95() -> None:
    spec = CanarySpec("base", "cand", min_requests=100)
    baseline = window(1000, 10, 20.0)
    assert evaluate(spec, window(50, 0, 20.0), baseline) is None
    good = evaluate(spec, window(100, 1, 21.0), baseline)
    assert good is not None
    assert good.passed
    erroring = evaluate(spec, window(100, 10, 20.0), baseline)
    assert erroring is not None
    assert not erroring.passed
    assert "error rate" in erroring.reason
    slow = evaluate(spec, window(100, 0, 40.0), baseline)
    assert slow is not None
    assert not slow.passed
    assert "p95" in slow.reason
    assert slow.candidate_p95_ms > slow.baseline_p95_ms


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"candidate": "base"}, "candidate"),
        ({"steps": (5.0, 1.0, 100.0)}, "steps"),
        ({"steps": (10.0, 50.0)}, "steps"),
        ({"steps": (0.0, 100.0)}, "steps"),
        ({"min_requests": 0}, "min_requests"),
        ({"max_p95_ratio": 0.5}, "max_p95_ratio"),
    ],
)
def test_invalid_canaries_raise_naming_the_field(kw: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"baseline": "base", "candidate": "cand"}
    args.update(kw)
    with pytest.raises(ValueError, match=rf"^{field}:"):
        CanarySpec(**args)  # type: ignore[arg-type]
