"""`ServingRuntime.serve_http`: the uvicorn thread, its port, its shutdown with the runtime."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from actorserve.actors import ServingRuntime
from actorserve.adapters.simulated import SimulatedInvoker
from actorserve.domain import ConfigError
from tests.adapters.http.conftest import http_threads
from tests.fakes import FakeInvoker, eventually, make_version

PROMPT = {"inputs": [{"name": "prompt", "shape": [1], "datatype": "BYTES", "data": ["hi"]}]}


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_serve_http_returns_the_real_port_and_stop_joins_its_thread(
    runtimes: Callable[..., ServingRuntime],
) -> None:
    rt = runtimes(SimulatedInvoker())
    port = rt.serve_http(0)
    assert port > 0
    assert httpx.get(f"http://127.0.0.1:{port}/v2/health/live").status_code == 200
    assert [t.name for t in http_threads()] == [f"actorserve-http:{port}"]
    rt.stop(timeout=10)
    assert http_threads() == []
    assert refuses(port)
    with pytest.raises(RuntimeError, match="serve_http: the runtime is stopped"):
        rt.serve_http(0)


def test_a_taken_port_raises_and_leaves_nothing_running(runtimes: Callable[..., ServingRuntime]) -> None:
    rt = runtimes(SimulatedInvoker())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            rt.serve_http(taken.getsockname()[1])
    assert http_threads() == []


def test_a_missing_extra_is_one_line_naming_the_install(
    runtimes: Callable[..., ServingRuntime], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(ConfigError) as caught:
        runtimes().serve_http(0)
    assert str(caught.value) == "server.http: uvicorn is not installed; pip install 'actorserve[server]'"


def test_a_bad_option_is_a_config_error(runtimes: Callable[..., ServingRuntime]) -> None:
    with pytest.raises(ConfigError, match="max_body_bytes"):
        runtimes().serve_http(0, max_body_bytes=0)
    with pytest.raises(ConfigError, match="public_paths"):
        runtimes().serve_http(0, public_paths=["health"])
    assert http_threads() == []


def test_stop_stops_accepting_then_answers_every_request_in_progress(
    runtimes: Callable[..., ServingRuntime],
) -> None:
    gate = threading.Event()
    inv = FakeInvoker(gate=gate)
    rt = runtimes(inv)
    rt.register(make_version("chat-1", "chat", replicas=3, max_concurrency=3))
    assert rt.wait_ready("chat-1", 5)
    port = rt.serve_http(0)
    url = f"http://127.0.0.1:{port}/v2/models/chat/infer"
    answers: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        status = httpx.post(url, json=PROMPT, timeout=20).status_code
        with lock:
            answers.append(status)

    callers = [threading.Thread(target=call) for _ in range(3)]
    for t in callers:
        t.start()
    for _ in callers:
        assert inv.started.acquire(timeout=5)  # all three at the backend
    stopping = threading.Thread(target=rt.stop, kwargs={"timeout": 20})
    stopping.start()
    try:
        assert eventually(lambda: refuses(port))  # no new connection while the three drain
        assert answers == []
    finally:
        gate.set()
    for t in callers:
        t.join(10)
    stopping.join(20)
    assert sorted(answers) == [200, 200, 200]
    assert not stopping.is_alive()
    assert http_threads() == []
    assert rt.threads() == []


def test_answers_are_not_held_back_by_delayed_acks(runtimes: Callable[..., ServingRuntime]) -> None:
    # Accepted sockets need TCP_NODELAY: without it each answer, written as headers then body,
    # waits for the client's delayed ACK (40 ms on Linux) before its body leaves.
    rt = runtimes(SimulatedInvoker())
    rt.register(make_version("chat-1", "chat"))
    assert rt.wait_ready("chat-1", 5)
    port = rt.serve_http(0)
    took = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(15):
            started = time.perf_counter()
            assert client.post("/v2/models/chat/infer", json=PROMPT).status_code == 200
            took.append(time.perf_counter() - started)
    assert sorted(took)[7] < 0.035  # a delayed-ACK stall is ~40 ms per answer; a loaded machine adds a little


def test_a_connection_accepted_just_before_stop_still_has_its_request_answered(
    runtimes: Callable[..., ServingRuntime],
) -> None:
    # uvicorn closes a connection with no request in progress at once; one accepted a moment
    # before shutdown gets FRESH_GRACE_S to finish sending its request, which is then answered
    # (503: the runtime is stopping; the client knows to go elsewhere, rather than seeing a cut).
    rt = runtimes(SimulatedInvoker())
    rt.register(make_version("chat-1", "chat"))
    assert rt.wait_ready("chat-1", 5)
    port = rt.serve_http(0)
    body = json.dumps(PROMPT).encode()
    head = (
        "POST /v2/models/chat/infer HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)  # the headers are not complete: the server has no request yet
        # connections are accepted in order: once a later one is answered, this one was accepted
        assert httpx.get(f"http://127.0.0.1:{port}/v2/health/live").status_code == 200
        stopping = threading.Thread(target=rt.stop, kwargs={"timeout": 20})
        stopping.start()
        assert eventually(lambda: refuses(port))  # shutdown has begun
        sock.sendall(b"\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    stopping.join(20)
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 503 Service Unavailable"
    headers, _, text = rest.partition(b"\r\n\r\n")
    assert b"connection: close" in headers.lower()
    assert json.loads(text) == {"error": "Runtime is stopped"}
    assert not stopping.is_alive()
    assert http_threads() == []
