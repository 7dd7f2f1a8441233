"""Talks to `peers/ray_peer.py` running in Ray's own virtualenv (made by `make bench-peers`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.harness import Run

ROOT = Path(__file__).resolve().parent.parent
RAY_PYTHON = ROOT / ".venv-ray" / "bin" / "python"
NOT_INSTALLED = "Ray Serve not installed: run `make bench-peers` to compare against it"


def available() -> bool:
    return RAY_PYTHON.exists()


class RayPeer:
    """One Ray Serve process (cluster mode, or in-process `_local_testing_mode`)."""

    def __init__(self, *, local: bool = False) -> None:
        self.local = local
        self._proc = subprocess.Popen(
            [str(RAY_PYTHON), str(ROOT / "benchmarks" / "peers" / "ray_peer.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.cold_start_s: float | None = None

    def _ask(self, **command: Any) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(command) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            msg = "the Ray peer exited"
            raise RuntimeError(msg)
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"Ray peer: {answer['error']}")
        return answer

    def setup(self, model: str, replicas: int = 1, max_ongoing: int = 64) -> None:
        answer = self._ask(cmd="setup", model=model, replicas=replicas, max_ongoing=max_ongoing, local=self.local)
        self.cold_start_s = answer["cold_start_s"]

    def sequential(self, n: int) -> Run:
        answer = self._ask(cmd="sequential", n=n)
        return Run(answer["latencies_us"], answer["elapsed_s"])

    def concurrent(self, n: int, concurrency: int) -> Run:
        answer = self._ask(cmd="concurrent", n=n, concurrency=concurrency)
        return Run(answer["latencies_us"], answer["elapsed_s"])

    def rss(self) -> int:
        return int(self._ask(cmd="rss")["rss_bytes"])

    def close(self) -> None:
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self._proc.stdin.flush()
            self._proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait(timeout=10)


def actorserve_cold_start_and_rss() -> tuple[float, int]:
    """Import → first answer, and idle RSS with one version, in a fresh interpreter (same model, no load time)."""
    code = (
        "import time; t0 = time.perf_counter()\n"
        "from actors import ServingRuntime\n"
        "from benchmarks.models import ZeroWork\n"
        "from benchmarks.contenders import version\n"
        "rt = ServingRuntime(ZeroWork()); rt.register(version()); rt.wait_ready('v1', 30)\n"
        "assert rt.serve('m', {}).success\n"
        "elapsed = time.perf_counter() - t0\n"
        "import psutil; rss = psutil.Process().memory_info().rss\n"
        "rt.stop(); print(elapsed, rss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    elapsed, rss = out.stdout.split()
    return float(elapsed), int(rss)
