"""What every scenario receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.contenders import Contender
from benchmarks.harness import Run, async_loop, closed_loop, sequential


@dataclass
class Context:
    quick: bool
    out_dir: Path
    progress: Any
    ray: bool
    notes: list[str] = field(default_factory=list)

    def pick(self, full: Any, quick: Any) -> Any:
        return quick if self.quick else full

    def measure(self, contender: Contender, n: int, concurrency: int = 1) -> Run:
        """Run `n` calls at `concurrency` (threads, or tasks for an async contender)."""
        if contender.is_async:
            return async_loop(contender.acall, concurrency, n)
        if concurrency == 1:
            return sequential(contender.call, n)
        return closed_loop(contender.call, concurrency, n)
