"""Every design under test behind one interface: `call(i) -> ok` (and `acall` for asyncio)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actorserve.actors import ServingRuntime
from actorserve.domain import ModelRequest, ModelStatus, ModelType, ModelVersion, ServingConfig
from actorserve.domain.ports import ModelInvoker
from benchmarks.peers.bare_pykka import BarePykkaChain
from benchmarks.peers.shared_lock import SharedLockServing

IN_PROCESS = ("direct", "bare-pykka", "shared-lock", "actorserve", "actorserve-async")


def version(vid: str = "v1", model: str = "m", **serving: Any) -> ModelVersion:
    serving.setdefault("max_queue", 100_000)
    return ModelVersion(
        vid, model, "1.0.0", ModelType.CUSTOM_MODEL, ModelStatus.LOADING, serving=ServingConfig(**serving)
    )


class Contender:
    """A design serving one model; `close()` releases everything it started."""

    name = "contender"
    is_async = False

    def call(self, i: int) -> bool:
        raise NotImplementedError

    async def acall(self, i: int) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass


class Direct(Contender):
    """The invoker called in the caller's thread: zero serving overhead."""

    name = "direct"

    def __init__(self, invoker: ModelInvoker) -> None:
        self._invoker = invoker
        self._handle = invoker.load(version())
        self._requests = [ModelRequest("r", "m", "v1", {"i": i}) for i in range(256)]

    def call(self, i: int) -> bool:
        return self._invoker.invoke(self._handle, self._requests[i % 256], 30.0).ok


class Bare(Contender):
    name = "bare-pykka"

    def __init__(self, invoker: ModelInvoker, replicas: int = 1) -> None:
        self._chain = BarePykkaChain(invoker, workers=replicas)

    def call(self, i: int) -> bool:
        return self._chain.call({"i": i}) is not None

    def close(self) -> None:
        self._chain.stop()


class SharedLock(Contender):
    name = "shared-lock"

    def __init__(self, invoker: ModelInvoker) -> None:
        self._serving = SharedLockServing(invoker)
        self._serving.register_model(version())

    def call(self, i: int) -> bool:
        return self._serving.serve_request("m", {"i": i}).success


class ActorServe(Contender):
    name = "actorserve"

    def __init__(self, invoker: ModelInvoker, **serving: Any) -> None:
        self.runtime = ServingRuntime(invoker)
        self.runtime.register(version(**serving))
        if not self.runtime.wait_ready("v1", 60):
            msg = "actorserve version did not become READY"
            raise RuntimeError(msg)

    def call(self, i: int) -> bool:
        return self.runtime.serve("m", {"i": i}).success

    async def acall(self, i: int) -> bool:
        return (await self.runtime.aserve("m", {"i": i})).success

    def close(self) -> None:
        self.runtime.stop()


class ActorServeAsync(ActorServe):
    name = "actorserve-async"
    is_async = True


def make(name: str, invoker_factory: Callable[[], ModelInvoker], **serving: Any) -> Contender:
    """Build contender `name` around a fresh model; `serving` applies to the designs that have replicas."""
    invoker = invoker_factory()
    if name == "direct":
        return Direct(invoker)
    if name == "bare-pykka":
        return Bare(invoker, serving.get("replicas", 1))
    if name == "shared-lock":
        return SharedLock(invoker)
    if name == "actorserve":
        return ActorServe(invoker, **serving)
    if name == "actorserve-async":
        return ActorServeAsync(invoker, **serving)
    msg = f"unknown contender {name!r}"
    raise ValueError(msg)
