"""An HTTP error body that echoes the API key never shows any of it, wherever the 200-character cut falls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from actorserve.adapters.http_client import redact
from actorserve.adapters.v2_invoker import V2Invoker
from actorserve.domain import ModelRequest
from tests.fakes import make_version
from tests.http_servers import JsonServer

KEY = "sk-live-0123456789abcdefghijklmnop"
QUOTED_KEY = 'sk-live-"quoted"-and\\slashed-0123456789'


class EchoServer(JsonServer):
    """Ready for every model; each infer answers 400 with the body the test set."""

    def __init__(self) -> None:
        self.answer: Any = {}
        super().__init__(self._route)

    def _route(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        if method == "GET":
            return 200, {"ready": True}
        return 400, self.answer


@pytest.fixture
def server() -> Iterator[EchoServer]:
    with EchoServer() as s:
        yield s


def error_for(server: EchoServer, key: str, answer: Any) -> str:
    server.answer = answer
    inv = V2Invoker()
    try:
        version = make_version("v1", "m", framework="v2", endpoint=server.url, parameters={"api_key": key})
        handle = inv.load(version)
        result = inv.invoke(handle, ModelRequest("r1", "m", "v1", {"x": [1.0]}), 2.0)
    finally:
        inv.close()
    assert not result.ok
    return result.error or ""


def pieces(secret: str, size: int = 4) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


@pytest.mark.parametrize("lead", [150, 165, 175, 183, 190, 196])
@pytest.mark.parametrize(
    "shape",
    [
        lambda text: {"error": text},
        lambda text: {"error": {"message": text}},
        lambda text: {"detail": text},
        lambda text: {"unusual": [text]},
        lambda text: f"<html><body>{text}</body></html>",
    ],
    ids=["error", "error-message", "detail", "other-json", "html"],
)
def test_a_key_echoed_across_the_cut_leaves_no_piece_of_itself(server: EchoServer, lead: int, shape: Any) -> None:
    error = error_for(server, KEY, shape("x" * lead + f" bad key {KEY} for this model"))
    assert "HTTP 400" in error
    leaked = [p for p in pieces(KEY) if p in error]
    assert leaked == []


def test_a_key_json_escapes_in_the_echoed_body_is_redacted_too(server: EchoServer) -> None:
    error = error_for(server, QUOTED_KEY, {"unusual": [f"bad key {QUOTED_KEY}"]})
    assert [p for p in pieces(QUOTED_KEY) if p in error] == []
    assert [p for p in pieces(json.dumps(QUOTED_KEY)[1:-1]) if p in error] == []


def test_the_server_text_is_still_shown_up_to_the_cut(server: EchoServer) -> None:
    error = error_for(server, KEY, {"error": f"bad key {KEY}: " + "y" * 400})
    assert "bad key ***: yyy" in error
    assert error.count("y") <= 200


def test_redact_replaces_a_longer_secret_before_its_prefix_so_no_tail_survives() -> None:
    assert redact("token sk-abcdefgh1234", ("sk-abcdefgh", "sk-abcdefgh1234")) == "token ***"
