"""Tables the CLI prints for experiments: A/B analysis, shadow agreement, ensembles, canaries."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = ["experiment_report"]


def _num(value: object, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)


def _p(value: float) -> str:
    return "<1e-15" if value < 1e-15 else f"{value:.2g}"


def _ci(pair: object) -> str:
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return "-"
    return f"[{_num(pair[0])}, {_num(pair[1])}]"


def _ab(report: dict[str, Any]) -> list[RenderableType]:
    from rich.table import Table

    arms = report["arms"]
    title = f"A/B test {report['experiment_id']}: success metric {report['success_metric']}"
    arm_table = Table(title=title, title_justify="left")
    for header in (
        "arm",
        "version",
        "share",
        "assigned",
        "answered",
        "success rate",
        "latency ms",
        "p95 ms",
        "cost $ total",
    ):
        arm_table.add_column(header, justify="left" if header in ("arm", "version") else "right")
    for arm in arms:
        arm_table.add_row(
            arm["label"],
            arm["version_id"],
            f"{arm['weight']:.0%}",
            str(arm["assigned"]),
            str(arm["requests"]),
            _num(arm["success_rate"]),
            _num(arm["latency_ms_mean"], 2),
            _num(arm["latency_ms_p95"], 2),
            _num(arm["cost_usd_total"], 6),
        )
    stats = Table(title="comparisons against A (value [95% interval])", title_justify="left")
    for header in ("metric", "arm", "A", "arm value", "difference", "lift", "p-value", "significant"):
        stats.add_column(header, justify="left" if header in ("metric", "arm") else "right")
    for metric, rows in report["comparisons"].items():
        for row in rows:
            stats.add_row(
                metric,
                row["arm"],
                f"{_num(row['a']['value'])} {_ci(row['a']['ci95'])}",
                f"{_num(row['b']['value'])} {_ci(row['b']['ci95'])}",
                f"{_num(row['difference'])} {_ci(row['difference_ci95'])}",
                "-" if row["relative_lift"] is None else f"{row['relative_lift']:+.1%}",
                _p(row["p_value"]),
                "yes" if row["significant"] else "no",
            )
    srm = report["sample_ratio_mismatch"]
    verdict = f"winner: {report['winner']}" if report["winner"] else "no winner"
    decided_by = str(report.get("decided_by", "fixed_horizon")).replace("_", "-")
    line = (
        f"{verdict} (decided by the {decided_by} test) - {report['reason']}; "
        f"unit: {report.get('unit', 'request')}; sample ratio check p={_num(srm['p_value'])}"
    )
    return [arm_table, stats, *_sequential(report), line]


def _sequential(report: dict[str, Any]) -> list[RenderableType]:
    from rich.table import Table

    seq = report.get("sequential")
    if not isinstance(seq, dict):
        return []
    role = "decides" if seq["deciding"] else "report only"
    table = Table(
        title=f"always-valid (sequential) test on {seq['metric']} ({role}, {seq['looks']} looks)",
        title_justify="left",
    )
    for header in ("arm", "difference", "confidence sequence", "always-valid p", "Holm p", "decided"):
        table.add_column(header, justify="left" if header == "arm" else "right")
    for row in seq["comparisons"]:
        table.add_row(
            row["arm"],
            _num(row["difference"]),
            _ci(row["confidence_sequence"]),
            _p(row["p_value"]),
            _p(row["p_value_holm"]),
            "yes" if row["decided"] else "no",
        )
    out: list[RenderableType] = [table] if seq["comparisons"] else [f"sequential test: {seq['reason']}"]
    fixed = report.get("fixed_horizon")
    if isinstance(fixed, dict):
        out.append(f"fixed-horizon test: winner {fixed['winner'] or 'none'} - {fixed['reason']}")
    plan = report.get("planning")
    if isinstance(plan, dict) and plan.get("mde_at_current_n") is not None:
        needed = plan.get("samples_still_needed")
        tail = f"; {needed} more per arm for the mde {_num(plan['mde'])}" if needed is not None else ""
        out.append(f"planning: detectable now (power {plan['power']:.0%}) {_num(plan['mde_at_current_n'])}{tail}")
    conclusion = report.get("conclusion")
    if isinstance(conclusion, dict):
        n = "/".join(str(x) for x in conclusion["n_per_arm"])
        out.append(f"concluded ({conclusion['action']}) at n={n}: {conclusion['outcome']} - {conclusion['reason']}")
    return out


def _shadow(report: dict[str, Any]) -> list[RenderableType]:
    from rich.table import Table

    table = Table(
        title=f"shadow {report['experiment_id']}: {report['primary_model']} -> {report['shadow_model']}",
        title_justify="left",
    )
    for header in (
        "mirrored",
        "dropped",
        "compared",
        "agree exact",
        "agree ±tol",
        "primary err",
        "shadow err",
        "latency Δ ms",
        "|Δ| p95 ms",
    ):
        table.add_column(header, justify="right")
    delta = report["latency_delta_ms"]
    table.add_row(
        str(report["mirrored"]),
        str(report["dropped"]),
        str(report["comparisons_count"]),
        _pct(report["agreement_rate"]),
        _pct(report["agreement_rate_within_tolerance"]),
        _pct(report["primary_error_rate"]),
        _pct(report["shadow_error_rate"]),
        _num(delta["mean"], 2),
        _num(delta["abs_p95"], 2),
    )
    return [table]


def _pct(value: object) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.1%}"


def _ensemble(report: dict[str, Any]) -> list[RenderableType]:
    members = ", ".join(report["members"])
    failures = ", ".join(f"{k}:{v}" for k, v in report["failures_by_code"].items()) or "none"
    head = f"ensemble {report['experiment_id']} ({report['aggregation_method']} over {members}"
    return [
        f"{head}, quorum {report['min_agreements']}): "
        f"{report['requests']} requests, {report['successes']} ok, failures {failures}, "
        f"{report['decided_before_all_members']} decided before every member answered"
    ]


def _canary(report: dict[str, Any]) -> list[RenderableType]:
    from rich.table import Table

    table = Table(
        title=f"canary {report['experiment_id']}: {report['baseline']} -> {report['candidate']}: {report['state']}",
        title_justify="left",
    )
    for header in ("step %", "action", "cand err", "base err", "cand p95 ms", "base p95 ms", "cand n", "reason"):
        table.add_column(header, justify="left" if header in ("action", "reason") else "right")
    for d in report["decisions"]:
        table.add_row(
            _num(d["traffic_percentage"], 0),
            d["action"],
            f"{d['candidate_error_rate']:.2%}",
            f"{d['baseline_error_rate']:.2%}",
            _num(d["candidate_p95_ms"], 2),
            _num(d["baseline_p95_ms"], 2),
            str(d["candidate_requests"]),
            d["reason"],
        )
    return [table]


def experiment_report(report: dict[str, Any]) -> list[RenderableType]:
    """Renderables for one experiment's report, by its kind."""
    render = {"ab_test": _ab, "shadow": _shadow, "ensemble": _ensemble, "canary": _canary}[str(report["kind"])]
    return render(report)
