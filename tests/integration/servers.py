"""Real third-party servers for integration tests, each in a virtualenv of its own.

Their dependency pins can't clash with ours: `ensure_venv` builds
`.venv-integration/<name>` once (a stamp file records what it holds) and
`Server` starts the process on 127.0.0.1, polls until it answers, and always
stops it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

ROOT = Path(__file__).resolve().parents[2] / ".venv-integration"


def ensure_venv(name: str, packages: list[str]) -> Path:
    """The `bin` folder of a virtualenv holding exactly `packages` (built on first use)."""
    home = ROOT / name
    stamp = home / ".installed"
    wanted = "\n".join(packages)
    if stamp.exists() and stamp.read_text() == wanted:
        return home / "bin"
    shutil.rmtree(home, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(home)], check=True, timeout=300)
    subprocess.run(
        [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages],
        check=True,
        timeout=900,
    )
    stamp.write_text(wanted)
    return home / "bin"


class Server:
    """A subprocess serving HTTP on 127.0.0.1; ready when `ready_path` answers 200."""

    def __init__(
        self, argv: list[str], *, cwd: Path, port: int, ready_path: str, log: Path, timeout_s: float = 120
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._argv = argv
        self._cwd = cwd
        self._ready = ready_path
        self._log_path = log
        self._timeout = timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> Server:
        log = self._log_path.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("VIRTUAL_ENV", None)
        self._proc = subprocess.Popen(self._argv, cwd=self._cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + self._timeout
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    self.stop()
                    msg = f"{self._argv[0]} exited with {self._proc.returncode}:\n{self.log_tail()}"
                    raise RuntimeError(msg)
                try:
                    if client.get(self._ready).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                try:  # between polls, wait on the process itself: an early exit ends the wait at once
                    self._proc.wait(0.2)
                except subprocess.TimeoutExpired:
                    pass
        self.stop()
        msg = f"{self._argv[0]} not ready within {self._timeout:g}s:\n{self.log_tail()}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
