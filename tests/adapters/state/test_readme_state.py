"""The README's State example runs as written (a fresh SQLite file, two runtimes one after the other)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_state_example_restores_what_the_first_runtime_registered(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## State\n")
    section = text[start : text.index("\n## ", start + 1)]
    code = re.findall(r"^```python\n(.*?)^```", section, flags=re.DOTALL | re.MULTILINE)[0]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "actorserve-state.db").exists()
