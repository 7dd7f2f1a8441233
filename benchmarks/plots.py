"""PNG plots with matplotlib (optional: without it the harness says so and goes on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def latency_vs_concurrency(out_dir: Path, data: dict[str, dict[int, dict[str, float]]], filename: str) -> list[str]:
    plt = _pyplot()
    if plt is None:
        return []
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, by_level in data.items():
        levels = sorted(by_level)
        ax.plot(levels, [by_level[lv]["p50_us"] for lv in levels], marker="o", label=f"{name} p50")
        ax.plot(levels, [by_level[lv]["p99_us"] for lv in levels], marker="x", linestyle="--", label=f"{name} p99")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("concurrent callers")
    ax.set_ylabel("latency (µs)")
    ax.set_title("zero-work model: latency percentiles vs concurrency")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_dir / filename, dpi=110)
    plt.close(fig)
    return [filename]


def throughput_vs_batch(out_dir: Path, summary: dict[int, dict[str, float]], filename: str) -> list[str]:
    plt = _pyplot()
    if plt is None:
        return []
    sizes = sorted(summary)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(sizes, [summary[s]["throughput_rps"] for s in sizes], marker="o")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("max_batch_size")
    ax.set_ylabel("requests / s")
    ax.set_title("dense 4096x4096 layer, 64 callers: throughput vs batch size")
    ax.grid(True, which="both", alpha=0.3)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_dir / filename, dpi=110)
    plt.close(fig)
    return [filename]
