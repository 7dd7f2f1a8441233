"""Increments per second of one `increment` batch of 10,000 fields, on each state store.

Not part of the harness: a quick measurement a reviewer can repeat.

    .venv/bin/python -m benchmarks.state_increments

SQLite runs on a temporary file; Redis on a redis-server this script starts
on a unix socket (skipped if redis-server is not on PATH).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from actorserve.adapters.state import RedisStateStore, SqliteStateStore
from actorserve.domain.ports import StateStore

BATCH = {("units", f"u{u}"): {f"bucket{b}": 1 for b in range(100)} for u in range(100)}  # 10,000 increments
ROUNDS = 5


def measure(store: StateStore) -> float:
    store.increment(BATCH)  # warm: rows and keys exist, as after the first flush
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        store.increment(BATCH)
        best = min(best, time.perf_counter() - started)
    store.close()
    return 10_000 / best


def redis_rate(folder: Path) -> float | None:
    server = shutil.which("redis-server")
    if server is None:
        return None
    sock = folder / "redis.sock"
    args = [server, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                store = RedisStateStore.from_url(f"unix://{sock}", namespace="bench")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return measure(store)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="as-bench-") as name:
        folder = Path(name)
        print(
            f"sqlite (file, WAL, synchronous=FULL): {measure(SqliteStateStore(folder / 's.db')):>10,.0f} increments/s"
        )
        rate = redis_rate(folder)
        print("redis  (unix socket, one Lua call):  " + ("skipped" if rate is None else f"{rate:>10,.0f} increments/s"))


if __name__ == "__main__":
    main()
