"""`python -m benchmarks [scenario ...] [--quick] [--out DIR] [--no-ray]`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from benchmarks.context import Context
from benchmarks.harness import ScenarioResult, machine, write_result
from benchmarks.scenarios import SCENARIOS

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def _render(result: ScenarioResult, console: object) -> None:
    from rich.table import Table

    table = Table(title=f"{result.name}", title_justify="left")
    for column in result.columns:
        table.add_column(str(column))
    for row in result.rows:
        table.add_row(*(str(cell) for cell in row))
    console.print(table)  # type: ignore[attr-defined]
    for note in result.notes:
        console.print(f"  note: {note}")  # type: ignore[attr-defined]


def _targets_table(results: list[ScenarioResult]) -> object:
    from rich.table import Table

    table = Table(title="targets (ratios against peers measured in this run)", title_justify="left")
    for column in ("target", "measured", "limit", "margin", "status"):
        table.add_column(column)
    for result in results:
        for t in result.targets:
            measured = "-" if t.measured is None else f"{t.measured:.3g} {t.unit}"
            bound = f"{'≥' if t.higher_is_better else '≤'} {t.limit:g} {t.unit}"
            colour = {"pass": "green", "fail": "red"}.get(t.status, "yellow")
            table.add_row(t.description, measured, bound, t.margin, f"[{colour}]{t.status}[/{colour}]")
    return table


def summary_markdown(results: list[ScenarioResult], quick: bool) -> str:
    m = machine()
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {m['platform']}, {m['cpu_count']} CPUs, Python {m['python']}"
        + (" (quick mode)" if quick else "")
        + ".",
        "",
        "| target | measured | limit | margin | status |",
        "| --- | --- | --- | --- | --- |",
    ]
    for result in results:
        for t in result.targets:
            measured = "-" if t.measured is None else f"{t.measured:.3g} {t.unit}"
            bound = f"{'≥' if t.higher_is_better else '≤'} {t.limit:g} {t.unit}"
            lines.append(f"| {t.description} | {measured} | {bound} | {t.margin} | {t.status} |")
    for result in results:
        lines += [
            "",
            f"**{result.name}**",
            "",
            "| " + " | ".join(map(str, result.columns)) + " |",
            "|" + " --- |" * len(result.columns),
        ]
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in result.rows]
        lines += [f"_note: {note}_" for note in result.notes]
    return "\n".join(lines) + "\n"


def _all_results(out_dir: Path, fresh: list[ScenarioResult]) -> list[ScenarioResult]:
    """This run's results plus the latest JSON of scenarios not run this time, in scenario order."""
    import json

    from benchmarks.harness import Target

    by_name = {r.name: r for r in fresh}
    for name in SCENARIOS:
        path = out_dir / f"{name}.json"
        if name in by_name or not path.exists():
            continue
        data = json.loads(path.read_text())
        targets = [
            Target(
                t["name"],
                t["description"],
                t["measured"],
                t["limit"],
                t["higher_is_better"],
                t["unit"],
                t.get("note", ""),
            )
            for t in data["targets"]
        ]
        by_name[name] = ScenarioResult(name, data["columns"], data["rows"], targets, notes=data.get("notes", []))
    return [by_name[name] for name in SCENARIOS if name in by_name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="actorserve benchmark harness")
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], help="default: all")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (under 2 minutes): keeps the harness honest in CI"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where JSON and PNG go (default {DEFAULT_OUT})")
    parser.add_argument("--no-ray", action="store_true", help="skip Ray Serve even when .venv-ray exists")
    args = parser.parse_args(argv)
    names = args.scenarios or list(SCENARIOS)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console() if sys.stdout.isatty() else Console(width=160)
    results: list[ScenarioResult] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not sys.stdout.isatty()) as progress:
        ctx = Context(quick=args.quick, out_dir=args.out, progress=progress, ray=not args.no_ray)
        for name in names:
            result = SCENARIOS[name](ctx)
            write_result(result, args.out, quick=args.quick, config={"scenario": name, "pid": os.getpid()})
            results.append(result)
            progress.console.print(f"{name}: done")
    for result in results:
        _render(result, console)
    console.print(_targets_table(results))
    (args.out / "SUMMARY.md").write_text(summary_markdown(_all_results(args.out, results), args.quick))
    console.print(f"results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
