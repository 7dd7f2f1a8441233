"""A host program that ends without `stop()` still exits, and what it held is drained first."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_program_that_forgets_stop_exits_after_draining() -> None:
    done = run(
        """
        import atexit
        replies = []
        atexit.register(lambda: print("answered", sum(r.done for r in replies)))  # registered first: runs last

        from actorserve import ServingRuntime
        from actorserve.actors.reply import SyncReply
        from tests.fakes import FakeInvoker, make_version

        rt = ServingRuntime(FakeInvoker(latency=0.2))
        rt.register(make_version("v1"))
        assert rt.wait_ready("v1", 5)
        for _ in range(3):
            reply = SyncReply()
            rt.submit("chat", {"n": 1}, reply)
            replies.append(reply)
        print("leaving")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["leaving", "answered", "3"]


def test_a_program_that_crashes_after_starting_the_facade_exits_with_its_error() -> None:
    done = run(
        """
        from actorserve import get_model_serving_infrastructure
        infra = get_model_serving_infrastructure()
        raise RuntimeError("host bug")
        """
    )
    assert done.returncode == 1
    assert "host bug" in done.stderr


def test_a_program_that_serves_http_and_forgets_stop_still_exits() -> None:
    done = run(
        """
        from actorserve import ServingRuntime
        from tests.fakes import make_version

        rt = ServingRuntime()
        rt.register(make_version("v1"))
        assert rt.wait_ready("v1", 5)
        print("port", rt.serve_http(0) > 0)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["port", "True"]
