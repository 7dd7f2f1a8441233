"""A runtime with its HTTP front on 127.0.0.1 (real uvicorn, port 0), stopped after each test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from actorserve.actors import ServingRuntime
from actorserve.domain import ModelVersion


@dataclass
class Served:
    """A runtime serving HTTP at `url`."""

    runtime: ServingRuntime
    url: str

    def add(self, *versions: ModelVersion, timeout: float = 30.0) -> None:
        for version in versions:
            assert self.runtime.register(version)
        for version in versions:
            assert self.runtime.wait_ready(version.version_id, timeout), version.last_error


def http_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("actorserve-http")]


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """`serve(invoker=..., **app_options)`: a runtime with its HTTP front; stopped (and checked) after the test."""
    made: list[ServingRuntime] = []

    def start(invoker: Any = None, **app_options: Any) -> Served:
        rt = ServingRuntime(invoker)
        made.append(rt)
        port = rt.serve_http(0, **app_options)
        return Served(rt, f"http://127.0.0.1:{port}")

    yield start
    for rt in made:
        rt.stop(timeout=10)
        assert rt.threads() == []
    assert http_threads() == []
