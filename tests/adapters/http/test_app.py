"""The front at the HTTP level (httpx, raw sockets): limits, auth, errors, deadlines, mounting, metrics, disconnects."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from actorserve.actors import ServingRuntime
from actorserve.adapters.http import create_app
from actorserve.adapters.simulated import SimulatedInvoker
from actorserve.domain import ConfigError, ErrorCode
from tests.adapters.http.conftest import Served
from tests.fakes import FakeInvoker, eventually, make_version

PROMPT = {"inputs": [{"name": "prompt", "shape": [1], "datatype": "BYTES", "data": ["hi"]}]}


@pytest.fixture
def gated(serve: Callable[..., Served]) -> Iterator[tuple[Served, FakeInvoker, threading.Event]]:
    """One version whose backend calls wait for the gate: one at the worker, one in the queue, then OVERLOADED."""
    gate = threading.Event()
    inv = FakeInvoker(gate=gate)
    served = serve(inv)
    served.add(make_version("chat-1", "chat", max_queue=1, max_concurrency=1, timeout_ms=5_000))
    yield served, inv, gate
    gate.set()


def test_a_body_over_the_limit_is_413(serve: Callable[..., Served]) -> None:
    served = serve(SimulatedInvoker(), max_body_bytes=1024)
    served.add(make_version("chat-1", "chat"))
    big = {"inputs": [{"name": "prompt", "shape": [1], "datatype": "BYTES", "data": ["x" * 2000]}]}
    r = httpx.post(f"{served.url}/v2/models/chat/infer", json=big)
    assert r.status_code == 413
    assert "limit of 1024" in r.json()["error"]
    chunked = httpx.post(f"{served.url}/v2/models/chat/infer", content=iter([b"{" + b" " * 1500, b"}"]))
    assert chunked.status_code == 413
    assert httpx.post(f"{served.url}/v2/models/chat/infer", json=PROMPT).status_code == 200


def test_without_a_valid_token_it_is_401_but_health_and_metrics_stay_public(
    serve: Callable[..., Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_TEST_KEYS", "k-one, k-two")
    served = serve(SimulatedInvoker(), api_keys_env="HTTP_TEST_KEYS")
    served.add(make_version("chat-1", "chat"))
    url = f"{served.url}/v2/models/chat/infer"
    missing = httpx.post(url, json=PROMPT)
    assert missing.status_code == 401
    assert missing.json() == {"error": "authorization: a valid bearer token is required"}
    assert missing.headers["www-authenticate"] == "Bearer"
    assert httpx.post(url, json=PROMPT, headers={"Authorization": "Bearer k-three"}).status_code == 401
    assert httpx.post(url, json=PROMPT, headers={"Authorization": "Basic k-one"}).status_code == 401
    assert httpx.post(url, json=PROMPT, headers={"Authorization": "Bearer k-two"}).status_code == 200
    assert httpx.get(f"{served.url}/v2/health/ready").status_code == 200
    assert httpx.get(f"{served.url}/metrics").status_code == 200
    assert httpx.get(f"{served.url}/v2").status_code == 401
    openai_style = httpx.get(f"{served.url}/v1/models")
    assert openai_style.json()["error"]["type"] == "authentication_error"


def test_an_unset_key_variable_is_a_config_error(runtimes: Callable[..., ServingRuntime]) -> None:
    with pytest.raises(ConfigError, match="api_keys_env: the variable NOT_SET_ANYWHERE is not set"):
        create_app(runtimes(), api_keys_env="NOT_SET_ANYWHERE")


def test_malformed_json_is_400_naming_the_position(serve: Callable[..., Served]) -> None:
    served = serve(SimulatedInvoker())
    r = httpx.post(f"{served.url}/v2/models/chat/infer", content=b'{"inputs": [1,\n ]}')
    assert r.status_code == 400
    assert r.json()["error"] == "body: malformed JSON at line 2 column 2 (char 16): Expecting value"
    o = httpx.post(f"{served.url}/v1/chat/completions", content=b"[1, 2")
    assert o.status_code == 400
    assert o.json()["error"]["message"].startswith("body: malformed JSON at line 1 column 6")


def test_an_unknown_model_is_404(serve: Callable[..., Served]) -> None:
    served = serve(SimulatedInvoker())
    r = httpx.post(f"{served.url}/v2/models/nope/infer", json=PROMPT)
    assert r.status_code == 404
    assert r.json() == {"error": "Model 'nope' not found"}
    assert httpx.get(f"{served.url}/v2/models/nope").status_code == 404
    assert httpx.get(f"{served.url}/v2/no/such/route").json() == {"error": "/v2/no/such/route: no such route"}


def test_a_full_queue_is_429_with_retry_after(gated: tuple[Served, FakeInvoker, threading.Event]) -> None:
    served, inv, gate = gated
    url = f"{served.url}/v2/models/chat/infer"
    with httpx.Client(timeout=10) as client:
        answers: list[httpx.Response] = []
        first = threading.Thread(target=lambda: answers.append(client.post(url, json=PROMPT)))
        second = threading.Thread(target=lambda: answers.append(client.post(url, json=PROMPT)))
        first.start()
        assert inv.started.acquire(timeout=5)
        second.start()
        assert eventually(lambda: served.runtime.get_metrics("chat-1").queue_depth == 1)  # type: ignore[union-attr]
        refused = client.post(url, json=PROMPT)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["x-actorserve-version"] == "chat-1"
        gate.set()
        first.join(10)
        second.join(10)
    assert [a.status_code for a in answers] == [200, 200]


def test_the_deadline_header_gives_504_and_is_capped_by_the_version(
    gated: tuple[Served, FakeInvoker, threading.Event], serve: Callable[..., Served]
) -> None:
    served, _, _ = gated
    url = f"{served.url}/v2/models/chat/infer"
    r = httpx.post(url, json=PROMPT, headers={"x-actorserve-timeout-ms": "100"}, timeout=10)
    assert r.status_code == 504
    other = serve(FakeInvoker(gate=threading.Event()))
    other.add(make_version("slow-1", "slow", timeout_ms=200))
    started = time.monotonic()
    capped = httpx.post(
        f"{other.url}/v2/models/slow/infer",
        json={**PROMPT, "parameters": {"timeout_ms": 600_000}},
        timeout=10,
    )
    assert capped.status_code == 504
    assert time.monotonic() - started < 5  # the version's 200 ms, not the ten minutes asked for
    bad = httpx.post(url, json=PROMPT, headers={"x-actorserve-timeout-ms": "soon"})
    assert bad.status_code == 422
    assert bad.json()["error"].startswith("x-actorserve-timeout-ms: must be a number > 0")


def test_a_client_that_disconnects_cancels_its_queued_request(
    gated: tuple[Served, FakeInvoker, threading.Event],
) -> None:
    served, inv, gate = gated
    url = f"{served.url}/v2/models/chat/infer"
    with httpx.Client(timeout=10) as client:
        answers: list[httpx.Response] = []
        first = threading.Thread(target=lambda: answers.append(client.post(url, json=PROMPT)))
        first.start()
        assert inv.started.acquire(timeout=5)  # the worker holds the first request
        port = int(served.url.rsplit(":", 1)[1])
        body = httpx.Request("POST", url, json=PROMPT)
        raw = (
            f"POST /v2/models/chat/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body.content)}\r\n\r\n"
        ).encode() + body.content
        cancelled = threading.Event()
        watcher = _OnRecord("client disconnected", cancelled)
        logging.getLogger("actorserve.adapters.http.front").addHandler(watcher)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(raw)
                assert eventually(lambda: served.runtime.get_metrics("chat-1").queue_depth == 1)  # type: ignore[union-attr]
            assert cancelled.wait(5)  # the socket closed: the front cancelled the awaiting task
        finally:
            logging.getLogger("actorserve.adapters.http.front").removeHandler(watcher)
        gate.set()
        first.join(10)
    assert [a.status_code for a in answers] == [200]
    counted = {ErrorCode.CANCELLED.value: 1}
    assert eventually(lambda: served.runtime.get_metrics("chat-1").errors_by_code == counted)  # type: ignore[union-attr]
    assert served.runtime.get_metrics("chat-1").total_requests == 2  # type: ignore[union-attr]
    assert len(inv.batch_sizes) == 1  # the cancelled request never reached the backend


class _OnRecord(logging.Handler):
    """Sets `event` when a record whose message starts with `prefix` is logged."""

    def __init__(self, prefix: str, event: threading.Event) -> None:
        super().__init__()
        self.prefix = prefix
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(self.prefix):
            self.event.set()


def test_the_app_mounts_under_a_prefix_beside_the_hosts_own_routes(
    runtimes: Callable[..., ServingRuntime], baseline_threads: set[threading.Thread]
) -> None:
    rt = runtimes(SimulatedInvoker())
    rt.register(make_version("chat-1", "chat"))
    assert rt.wait_ready("chat-1", 5)

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("host home")

    host = Starlette(routes=[Route("/", home), Mount("/ml", app=create_app(rt, api_keys=["k"]))])
    server = uvicorn.Server(uvicorn.Config(host, port=0, lifespan="off", log_config=None))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        assert eventually(lambda: server.started)
        auth = {"Authorization": "Bearer k"}
        assert httpx.get(f"{url}/").text == "host home"
        assert httpx.get(f"{url}/ml/v2/health/ready").status_code == 200  # public below the prefix too
        assert httpx.get(f"{url}/ml/v2/models/chat", headers=auth).json()["versions"] == ["chat-1"]
        assert httpx.post(f"{url}/ml/v2/models/chat/infer", json=PROMPT).status_code == 401
        answer = httpx.post(
            f"{url}/ml/v1/chat/completions",
            json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
            headers=auth,
        )
        assert answer.json()["choices"][0]["message"]["content"] == "Generated response for: hi"
        assert httpx.get(f"{url}/v2/health/ready").status_code == 404  # nothing outside the prefix
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert not thread.is_alive()


def test_metrics_count_http_requests_by_route_and_status(serve: Callable[..., Served]) -> None:
    served = serve(SimulatedInvoker())
    served.add(make_version("chat-1", "chat"))
    for _ in range(3):
        assert httpx.post(f"{served.url}/v2/models/chat/infer", json=PROMPT).status_code == 200
    assert httpx.post(f"{served.url}/v2/models/nope/infer", json=PROMPT).status_code == 404
    text = httpx.get(f"{served.url}/metrics").text
    assert 'actorserve_http_requests_total{route="/v2/models/{model}/infer",status="200"} 3.0' in text
    assert 'actorserve_http_requests_total{route="/v2/models/{model}/infer",status="404"} 1.0' in text
    assert 'actorserve_http_request_duration_seconds_count{route="/v2/models/{model}/infer"} 4.0' in text
    assert 'actorserve_requests_total{model="chat",version="chat-1"} 3.0' in text
    assert 'actorserve_version_status{model="chat",status="ready",version="chat-1"} 1.0' in text


def test_a_failure_inside_the_front_is_a_500_in_the_protocols_format(
    serve: Callable[..., Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    served = serve(SimulatedInvoker())

    def broken() -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(served.runtime, "list_versions", broken)
    r = httpx.get(f"{served.url}/v1/models")
    assert r.status_code == 500
    assert r.json()["error"]["message"] == "the HTTP front failed: RuntimeError"
    v2 = httpx.post(f"{served.url}/v2/repository/index")
    assert v2.status_code == 500
    assert v2.json() == {"error": "the HTTP front failed: RuntimeError"}
