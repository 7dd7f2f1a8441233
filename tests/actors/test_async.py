from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from actorserve.actors import ServingRuntime
from actorserve.domain import ErrorCode
from tests.fakes import FakeInvoker, make_version

Factory = Callable[..., ServingRuntime]


def test_aserve_never_blocks_the_event_loop(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = runtimes(invoker)
    rt.register(make_version(replicas=4, max_queue=256))
    assert rt.wait_ready("v1", 5)

    async def main() -> tuple[int, list[bool]]:
        ticks = 0
        ticking = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                if ticks == 20:
                    ticking.set()
                await asyncio.sleep(0)

        tick_task = asyncio.create_task(ticker())
        requests = [asyncio.create_task(rt.aserve("chat", {"i": i}, timeout_ms=10_000)) for i in range(100)]
        await asyncio.sleep(0)
        # With 100 requests in flight and the model blocked, the loop still runs other coroutines.
        await asyncio.wait_for(ticking.wait(), timeout=5)
        before = ticks
        await asyncio.sleep(0.01)
        assert ticks > before
        gate.set()
        done = await asyncio.wait_for(asyncio.gather(*requests), timeout=10)
        tick_task.cancel()
        return ticks, [r.success for r in done]

    ticks, results = asyncio.run(main())
    assert ticks > 20
    assert results == [True] * 100


def test_aserve_answers_bad_input_and_unknown_models_without_raising(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker())

    async def main() -> list[ErrorCode | None]:
        a = await rt.aserve("chat", [1, 2])  # type: ignore[arg-type]
        b = await rt.aserve("chat", {})
        return [a.error_code, b.error_code]

    assert asyncio.run(main()) == [ErrorCode.INVALID_INPUT, ErrorCode.NOT_FOUND]


def test_aserve_times_out_at_the_deadline(runtimes: Factory) -> None:
    rt = runtimes(FakeInvoker(gate=threading.Event()))
    rt.register(make_version())
    assert rt.wait_ready("v1", 5)

    async def main() -> ErrorCode | None:
        return (await rt.aserve("chat", {}, timeout_ms=30)).error_code

    assert asyncio.run(main()) is ErrorCode.TIMEOUT


def test_cancelling_aserve_means_a_queued_request_never_starts(runtimes: Factory) -> None:
    gate = threading.Event()
    invoker = FakeInvoker(gate=gate)
    rt = runtimes(invoker)
    rt.register(make_version())
    assert rt.wait_ready("v1", 5)

    async def main() -> None:
        first = asyncio.create_task(rt.aserve("chat", {"n": 1}))
        await asyncio.get_running_loop().run_in_executor(None, invoker.started.acquire, True, 5)
        second = asyncio.create_task(rt.aserve("chat", {"n": 2}))
        await asyncio.sleep(0)  # one loop turn: the task submits, then awaits its answer
        second.cancel()
        try:  # cancel() only asks: the task answers CANCELLED when it next runs, so let it before the gate opens
            await second
        except asyncio.CancelledError:
            pass
        gate.set()
        assert (await first).success

    asyncio.run(main())
    m = rt.get_metrics("v1")
    assert m is not None
    assert invoker.batch_sizes == [1]
    assert m.errors_by_code == {"cancelled": 1}
