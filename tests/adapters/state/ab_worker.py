"""A host process for the sharing tests: serves an A/B test on a shared store, as one worker of a web app would.

    python -m tests.adapters.state.ab_worker URL REQUESTS MODE [OFFSET]

MODE `stop`: serve, stop the runtime, print one JSON line (this process's view).
MODE `hang`: serve, wait until the store holds every request served, print
`flushed`, then wait to be killed (the SIGKILL test).
"""

from __future__ import annotations

import json
import sys
import threading

from actorserve import ServingRuntime
from actorserve.actors.experiments.shared import ARM_COUNTERS
from actorserve.actors.plugins import open_state_store
from tests.fakes import eventually, make_version

TEST_ID = "shared-test"


def stored_assigned(url: str) -> int:
    store = open_state_store(url, namespace="actorserve")
    try:
        return int(sum(c.get("assigned", 0) for c in store.list_counters(ARM_COUNTERS).values()))
    finally:
        store.close()


def main(argv: list[str]) -> int:
    url, requests, mode = argv[0], int(argv[1]), argv[2]
    offset = int(argv[3]) if len(argv) > 3 else 0
    rt = ServingRuntime(state=url, seed=7, flush_interval_s=0.05)
    rt.register(make_version("v1", parameters={"error_rate": 0.05}))
    rt.register(make_version("v2", number="2.0.0", parameters={"error_rate": 0.10}))
    assert rt.wait_ready("v1", 10) and rt.wait_ready("v2", 10)
    test_id = rt.experiments.start_ab_test(["v1", "v2"], test_id=TEST_ID, min_samples=50)
    arms = {}
    for i in range(requests):
        key = f"user-{(i + offset) % 50}"
        response = rt.experiments.serve(test_id, {"prompt": "hi"}, key=key)
        arms[key] = response.version_id
    if mode == "hang":
        assert eventually(lambda: stored_assigned(url) >= requests, timeout=20)
        print("flushed", flush=True)
        threading.Event().wait()
        return 0
    rt.experiments.settle(test_id)
    print(json.dumps({"arms": arms}), flush=True)
    rt.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
