"""Measurement machinery shared by the scenarios: load loops, interleaving, statistics, output."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any


@dataclass
class Run:
    """One measurement of one contender: every latency (µs) and the wall time."""

    latencies_us: list[float]
    elapsed_s: float
    errors: int = 0

    @property
    def throughput(self) -> float:
        return len(self.latencies_us) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_us:
            return float("nan")
        ordered = sorted(self.latencies_us)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index]

    def summary(self) -> dict[str, float]:
        return {
            "n": len(self.latencies_us),
            "errors": self.errors,
            "elapsed_s": self.elapsed_s,
            "throughput_rps": self.throughput,
            "p50_us": self.percentile(50),
            "p95_us": self.percentile(95),
            "p99_us": self.percentile(99),
            "mean_us": statistics.fmean(self.latencies_us) if self.latencies_us else float("nan"),
        }


def sequential(call: Callable[[int], bool], n: int) -> Run:
    """One caller, `n` calls back to back."""
    latencies: list[float] = []
    errors = 0
    perf = time.perf_counter_ns
    started = perf()
    for i in range(n):
        t0 = perf()
        ok = call(i)
        latencies.append((perf() - t0) / 1000)
        errors += not ok
    return Run(latencies, (perf() - started) / 1e9, errors)


def closed_loop(call: Callable[[int], bool], concurrency: int, n: int) -> Run:
    """`concurrency` threads, each calling back to back, `n` calls in all."""
    per_thread = [max(1, n // concurrency)] * concurrency
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    barrier = threading.Barrier(concurrency + 1)
    perf = time.perf_counter_ns

    def client(index: int) -> None:
        out = latencies[index]
        barrier.wait()
        for i in range(per_thread[index]):
            t0 = perf()
            ok = call(index * 1_000_003 + i)
            out.append((perf() - t0) / 1000)
            errors[index] += not ok

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    started = perf()
    for t in threads:
        t.join()
    elapsed = (perf() - started) / 1e9
    return Run([x for part in latencies for x in part], elapsed, sum(errors))


def async_loop(acall: Callable[[int], Awaitable[bool]], concurrency: int, n: int) -> Run:
    """`concurrency` asyncio tasks on one loop, each awaiting back to back, `n` calls in all."""
    per_task = max(1, n // concurrency)
    perf = time.perf_counter_ns

    async def main() -> Run:
        latencies: list[float] = []
        errors = 0

        async def client(index: int) -> None:
            nonlocal errors
            for i in range(per_task):
                t0 = perf()
                ok = await acall(index * 1_000_003 + i)
                latencies.append((perf() - t0) / 1000)
                errors += not ok

        started = perf()
        await asyncio.gather(*(client(i) for i in range(concurrency)))
        return Run(latencies, (perf() - started) / 1e9, errors)

    return asyncio.run(main())


def interleave(contenders: Sequence[str], repeats: int) -> Iterator[tuple[int, str]]:
    """(repeat, contender) pairs, rotating the order each repeat so drift hits everyone alike."""
    for r in range(repeats):
        shift = r % len(contenders)
        for name in list(contenders[shift:]) + list(contenders[:shift]):
            yield r, name


def median_summary(runs: Sequence[Run]) -> dict[str, float]:
    """Medians across repeats of each figure."""
    summaries = [run.summary() for run in runs]
    return {key: statistics.median(s[key] for s in summaries) for key in summaries[0]}


@dataclass
class Target:
    """A performance target, judged against figures measured in the same run."""

    name: str
    description: str
    measured: float | None
    limit: float
    higher_is_better: bool
    unit: str = ""
    note: str = ""

    @property
    def status(self) -> str:
        if self.measured is None or self.measured != self.measured:
            return "skipped"
        ok = self.measured >= self.limit if self.higher_is_better else self.measured <= self.limit
        return "pass" if ok else "fail"

    @property
    def margin(self) -> str:
        """How far from the limit, as a percentage (positive: better than needed)."""
        if self.status == "skipped" or self.limit == 0 or self.measured is None:
            return ""
        ratio = self.measured / self.limit if self.higher_is_better else self.limit / self.measured
        return f"{(ratio - 1) * 100:+.0f}%"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "measured": self.measured,
            "limit": self.limit,
            "higher_is_better": self.higher_is_better,
            "unit": self.unit,
            "status": self.status,
            "margin": self.margin,
            "note": self.note,
        }


@dataclass
class ScenarioResult:
    """What a scenario hands back: a table, targets, raw data, plots."""

    name: str
    columns: list[str]
    rows: list[list[Any]]
    targets: list[Target] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "versions": {pkg: _version(pkg) for pkg in ("actorserve", "pykka", "numpy", "matplotlib", "psutil")},
    }


def write_result(result: ScenarioResult, out_dir: Path, *, quick: bool, config: dict[str, object]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{result.name}.json"
    payload = {
        "scenario": result.name,
        "measured_at": datetime.now(UTC).isoformat(),
        "quick": quick,
        "machine": machine(),
        "config": config,
        "columns": result.columns,
        "rows": result.rows,
        "targets": [t.as_dict() for t in result.targets],
        "notes": result.notes,
        "plots": result.plots,
        "raw": result.raw,
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def rss_bytes() -> int:
    """Resident memory of this process."""
    import psutil

    return int(psutil.Process().memory_info().rss)
