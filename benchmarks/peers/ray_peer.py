"""Ray Serve as a benchmark peer: runs inside its own virtualenv and takes JSON-line commands.

Started by the harness as `.venv-ray/bin/python benchmarks/peers/ray_peer.py`
(created by `make bench-peers`), so Ray's pins never meet ours. Each command
on stdin gets one JSON line on stdout. Deployments are driven through a
DeploymentHandle with `proxy_location="Disabled"` and access logs off.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import psutil  # noqa: E402
import ray  # noqa: E402
from ray import serve  # noqa: E402


@serve.deployment
class Zero:
    async def __call__(self, i: int) -> int:
        return 1


@serve.deployment
class Sleep5ms:
    def __call__(self, i: int) -> int:
        time.sleep(0.005)  # the same model code actorserve runs: blocking I/O that releases the GIL
        return 1


MODELS = {"zero": Zero, "sleep5ms": Sleep5ms}


class Peer:
    def __init__(self) -> None:
        self.handle = None
        self.local = None
        self.cold_start_s: float | None = None

    def setup(self, model: str, replicas: int, max_ongoing: int, local: bool) -> dict[str, object]:
        started = time.perf_counter()
        if self.local is not None and self.local != local:
            return {"error": "cannot switch between local testing mode and a cluster in one process"}
        if not local and not ray.is_initialized():
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
            serve.start(proxy_location="Disabled", logging_config={"enable_access_log": False, "log_level": "ERROR"})
        self.local = local
        app = MODELS[model].options(num_replicas=replicas, max_ongoing_requests=max_ongoing).bind()
        self.handle = serve.run(
            app,
            name="bench",
            route_prefix=None,
            _local_testing_mode=local,
            logging_config={"enable_access_log": False, "log_level": "ERROR"},
        )
        self.handle.remote(0).result()
        if self.cold_start_s is None:
            self.cold_start_s = time.perf_counter() - _T0
        return {"setup_s": time.perf_counter() - started, "cold_start_s": self.cold_start_s}

    def sequential(self, n: int) -> dict[str, object]:
        perf = time.perf_counter_ns
        latencies = []
        started = perf()
        for i in range(n):
            t0 = perf()
            self.handle.remote(i).result()
            latencies.append((perf() - t0) / 1000)
        return {"latencies_us": latencies, "elapsed_s": (perf() - started) / 1e9}

    def concurrent(self, n: int, concurrency: int) -> dict[str, object]:
        perf = time.perf_counter_ns
        per_task = max(1, n // concurrency)

        async def main() -> dict[str, object]:
            latencies: list[float] = []

            async def client(index: int) -> None:
                for i in range(per_task):
                    t0 = perf()
                    await self.handle.remote(index * 1_000_003 + i)
                    latencies.append((perf() - t0) / 1000)

            started = perf()
            await asyncio.gather(*(client(i) for i in range(concurrency)))
            return {"latencies_us": latencies, "elapsed_s": (perf() - started) / 1e9}

        return asyncio.run(main())

    def rss(self) -> dict[str, object]:
        proc = psutil.Process()
        total = proc.memory_info().rss
        tree = [proc, *proc.children(recursive=True)]
        if ray.is_initialized():  # raylet, GCS and workers are not all our children
            session = {p.pid for p in psutil.process_iter(["cmdline"]) if "ray" in " ".join(p.info["cmdline"] or [])}
            tree = [psutil.Process(pid) for pid in session | {proc.pid}]
            total = 0
        for p in tree:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return {"rss_bytes": total, "processes": len(tree)}


def main() -> None:
    peer = Peer()
    out = sys.stdout
    sys.stdout = sys.stderr  # keep Ray's chatter off the protocol
    for line in sys.stdin:
        command = json.loads(line)
        name = command.pop("cmd")
        if name == "quit":
            break
        try:
            result = getattr(peer, name)(**command)
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            result = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(result) + "\n")
        out.flush()
    if ray.is_initialized():
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()
