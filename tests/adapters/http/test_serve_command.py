"""`actorserve serve FILE`: a real subprocess, called by real clients, stopped by a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai
import pytest

from actorserve.adapters.cli import main

CONFIG = """
[invoker]
type = "simulated"
latency_ms = {latency}

[server]
port = 0

[[models]]
name = "chat"
type = "language_model"

  [[models.versions]]
  id = "chat-1"
  serving = {{ replicas = 8, max_queue = 4096, timeout_ms = 20000 }}
"""


@dataclass
class Serving:
    process: subprocess.Popen[str]
    url: str
    stderr: list[str] = field(default_factory=list)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout)


def start(tmp_path: Path, latency: float = 1.0, *args: str) -> Serving:
    path = tmp_path / "serve.toml"
    path.write_text(CONFIG.format(latency=latency))
    exe = Path(sys.executable).parent / "actorserve"
    process = subprocess.Popen(
        [str(exe), "serve", str(path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the line or the process ends; the test timeout bounds it
    if not line.startswith("listening on http://127.0.0.1:"):
        process.kill()
        _, err = process.communicate(timeout=10)
        pytest.fail(f"no listening line: {line!r} {err}")
    return Serving(process, line.split()[-1])


def finish(served: Serving) -> None:
    if served.process.poll() is None:
        served.process.kill()
        served.process.wait(10)
    for pipe in (served.process.stdout, served.process.stderr):
        if pipe is not None:
            pipe.close()


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Serving]:
    served = start(tmp_path)
    yield served
    finish(served)


def test_it_prints_one_line_serves_the_openai_client_and_exits_0_on_sigterm(serving: Serving) -> None:
    with openai.OpenAI(base_url=f"{serving.url}/v1", api_key="none", max_retries=0, timeout=10) as client:
        answer = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Generated response for: hi"
    assert serving.stop() == 0
    assert serving.process.stdout is not None
    assert serving.process.stdout.read() == ""  # the listening line was the only one


def test_sigint_drains_and_exits_0_too(serving: Serving) -> None:
    assert httpx.get(f"{serving.url}/v2/health/ready").status_code == 200
    assert serving.stop(signal.SIGINT) == 0


def test_the_port_flag_overrides_the_table_and_a_bad_one_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(latency=1.0))
    assert main(["serve", str(path), "--port", "70000"]) == 2


def test_check_validates_the_server_table_through_the_same_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(latency=1.0).replace("port = 0", 'port = 0\napi_keys_env = "NO_SUCH_KEYS_VAR"'))
    assert main(["check", str(path)]) == 2
    assert "server.api_keys_env: the variable NO_SUCH_KEYS_VAR is not set" in capsys.readouterr().err
    path.write_text(CONFIG.format(latency=1.0).replace("port = 0", "port = 0\nmax_body_bytes = 0"))
    assert main(["check", str(path)]) == 2
    assert "server.max_body_bytes: must be >= 1" in capsys.readouterr().err
    path.write_text(CONFIG.format(latency=1.0).replace("port = 0", 'port = 0\npublic = ["/x"]'))
    assert main(["check", str(path)]) == 2
    assert "server.public: unknown key" in capsys.readouterr().err


@pytest.mark.slow
def test_sigterm_during_200_requests_from_32_threads_answers_every_connected_one(tmp_path: Path) -> None:
    served = start(tmp_path, 100.0)
    url = f"{served.url}/v2/models/chat/infer"
    body = {"inputs": [{"name": "prompt", "shape": [1], "datatype": "BYTES", "data": ["hi"]}]}
    lock = threading.Lock()
    statuses: list[int] = []
    refused: list[str] = []  # no connection; or reset in the listen backlog, never accepted by the server
    broken: list[str] = []
    answered_after_signal: list[int] = []
    signalled = threading.Event()
    enough = threading.Event()
    remaining = [200]

    def client() -> None:
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            try:
                r = httpx.post(url, json=body, headers={"connection": "close"}, timeout=30)
            except httpx.ConnectError as exc:
                with lock:
                    refused.append(repr(exc))
                continue
            except httpx.ReadError as exc:
                with lock:
                    (refused if "reset by peer" in str(exc) else broken).append(repr(exc))
                continue
            except httpx.RemoteProtocolError as exc:  # closed before any answer: never read (stderr says so)
                with lock:
                    (refused if "without sending a response" in str(exc) else broken).append(repr(exc))
                continue
            except httpx.TransportError as exc:
                with lock:
                    broken.append(repr(exc))
                continue
            with lock:
                statuses.append(r.status_code)
                if signalled.is_set():
                    answered_after_signal.append(r.status_code)
                if len(statuses) >= 40:
                    enough.set()

    threads = [threading.Thread(target=client, name=f"client-{i}") for i in range(32)]
    for t in threads:
        t.start()
    try:
        assert enough.wait(30)
        signalled.set()
        served.process.send_signal(signal.SIGTERM)
        code = served.process.wait(60)
    finally:
        for t in threads:
            t.join(60)
        assert served.process.stderr is not None
        stderr = served.process.stderr.read() if served.process.poll() is not None else ""
        finish(served)
    assert code == 0
    assert "unanswered" not in stderr  # the server read no request it did not answer (so resets were never accepted)
    assert not any(t.is_alive() for t in threads)
    assert set(statuses) <= {200, 503}
    assert broken == []  # a request that got a connection got an answer
    assert len(statuses) + len(refused) == 200
    assert 200 in answered_after_signal  # the requests in flight at the signal were answered, not dropped
