"""The actorserve benchmark harness: `python -m benchmarks [scenario ...] [--quick]`."""
