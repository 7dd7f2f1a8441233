from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest

from actorserve.actors import ServingRuntime


@pytest.fixture(autouse=True)
def _stop_all_actors() -> Iterator[None]:
    """Every test ends with no actor alive, whatever it left behind."""
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=5)


@pytest.fixture
def runtimes() -> Iterator[Callable[..., ServingRuntime]]:
    """Factory of runtimes that are all stopped after the test."""
    made: list[ServingRuntime] = []

    def make(*args: Any, **kwargs: Any) -> ServingRuntime:
        rt = ServingRuntime(*args, **kwargs)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.stop(timeout=10)


@pytest.fixture
def baseline_threads() -> set[threading.Thread]:
    return set(threading.enumerate())
