"""The floor of actorserve's design: caller → router → version → worker → caller, nothing else.

Three actors passing one message each; the worker runs the model and wakes
the caller through a held lock (the cheapest one-shot), exactly as
actorserve's replies do. No ids, deadlines, admission, metrics or checks.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pykka

from actorserve.domain import ModelRequest, ModelStatus, ModelType, ModelVersion
from actorserve.domain.ports import ModelInvoker

_VERSION = ModelVersion("bare", "bare", "1", ModelType.CUSTOM_MODEL, ModelStatus.READY)


class _Call:
    __slots__ = ("request", "value", "wake")

    def __init__(self, request: ModelRequest) -> None:
        self.request = request
        self.value: object = None
        self.wake = threading.Lock()
        self.wake.acquire()


class _Worker(pykka.ThreadingActor):
    def __init__(self, invoker: ModelInvoker) -> None:
        super().__init__()
        self._invoker = invoker
        self._handle = invoker.load(_VERSION)

    def on_receive(self, message: Any) -> None:
        message.value = self._invoker.invoke(self._handle, message.request, 30.0)
        message.wake.release()


class _Version(pykka.ThreadingActor):
    def __init__(self, workers: list[pykka.ActorRef[Any]]) -> None:
        super().__init__()
        self._workers = itertools.cycle(workers)

    def on_receive(self, message: Any) -> None:
        next(self._workers).tell(message)


class _Router(pykka.ThreadingActor):
    def __init__(self, version: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self._version = version

    def on_receive(self, message: Any) -> None:
        self._version.tell(message)


class BarePykkaChain:
    def __init__(self, invoker: ModelInvoker, workers: int = 1) -> None:
        self._workers = [_Worker.start(invoker) for _ in range(workers)]
        self._version = _Version.start(self._workers)
        self._router = _Router.start(self._version)

    def call(self, input_data: dict[str, object]) -> object:
        call = _Call(ModelRequest("r", "bare", "bare", input_data))
        self._router.tell(call)
        call.wake.acquire(timeout=30)
        return call.value

    def stop(self) -> None:
        refs: list[pykka.ActorRef[Any]] = [self._router, self._version, *self._workers]
        for ref in refs:
            ref.stop()
