"""The benchmark harness in --quick mode: it runs and writes well-formed results (not a speed test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_mode_runs_every_scenario_and_writes_well_formed_json(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--no-ray", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for name in SCENARIOS:
        data = json.loads((tmp_path / f"{name}.json").read_text())
        assert data["scenario"] == name
        assert data["quick"] is True
        assert data["machine"]["python"]
        assert data["rows"]
        assert all(len(row) == len(data["columns"]) for row in data["rows"])
        for target in data["targets"]:
            assert target["status"] in ("pass", "fail", "skipped")
            assert isinstance(target["limit"], int | float)
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "| target | measured | limit | margin | status |" in summary
    pytest.importorskip("matplotlib")
    assert (tmp_path / "throughput-zero-latency.png").stat().st_size > 1000
    assert (tmp_path / "batching-throughput.png").stat().st_size > 1000
