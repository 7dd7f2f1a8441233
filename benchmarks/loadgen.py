"""A raw asyncio-streams HTTP/1.1 load generator: one keep-alive connection per worker.

An `httpx.AsyncClient` tops out near 500 req/s on this machine whatever the
server, so it would measure itself. This writes pre-built request bytes and
reads each response by its Content-Length, with uvloop when it is installed.
"""

from __future__ import annotations

import asyncio
import time
from typing import cast
from urllib.parse import urlsplit

from benchmarks.harness import Run


def request_bytes(url: str, path: str, body: bytes) -> bytes:
    """One POST with a JSON body, keep-alive."""
    host = urlsplit(url).netloc
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _worker(host: str, port: int, raw: bytes, count: int, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    perf = time.perf_counter_ns
    try:
        for _ in range(count):
            t0 = perf()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append((perf() - t0) / 1000)
            errors += head[9:12] != b"200"
    finally:
        writer.close()
        await writer.wait_closed()
    return errors


async def _load(url: str, raw: bytes, connections: int, n: int) -> Run:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    per = max(1, n // connections)
    latencies: list[list[float]] = [[] for _ in range(connections)]
    started = time.perf_counter()
    errors = await asyncio.gather(*(_worker(host, port, raw, per, latencies[i]) for i in range(connections)))
    elapsed = time.perf_counter() - started
    return Run([x for each in latencies for x in each], elapsed, sum(errors))


def load(url: str, raw: bytes, connections: int, n: int) -> Run:
    """`n` requests in all over `connections` keep-alive connections, each sending back to back."""
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return asyncio.run(_load(url, raw, connections, n))
    return cast("Run", uvloop.run(_load(url, raw, connections, n)))
