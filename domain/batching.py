"""Adaptive batching: a fitted batch-cost model and the decision a free worker asks for.

With `ServingConfig.batch_wait_ms = "auto"` a version does not wait a fixed
time for a partial batch. It fits what a batch of `n` costs its backend,
`cost(n) = per_item_s·n + fixed_s`, by least squares over the last batches
(`BatchCostModel`), tracks how often requests arrive (`ArrivalGaps`), and
each time a worker is free asks `decide` how many queued requests to hand it
now, or until when to wait for more. A request that cannot meet its deadline
even run alone is `hopeless`: it is answered TIMEOUT at once, never run late.

The rule, in words:

- nothing known about the backend yet: hand out what is queued (up to the
  limit), never wait;
- the batch is the longest prefix of the queue whose run, started now,
  meets every member's deadline and, for members that can still meet it,
  `max_latency_s` counted from their arrival; the objective never cuts a
  batch below the size the arrival rate needs (`needed_batch`: smaller
  batches cannot keep up, so the queue, and every later miss, would grow);
- a full batch goes at once;
- a partial batch of `n` waits only when waiting for one more pays: the
  newcomer joining saves it `fixed_s` (a batch of its own), while the `n`
  already queued each lose the expected gap `g` plus one `per_item_s`, so it
  waits only while `n·(g + per_item_s) < fixed_s`, and at most until the
  earliest of: the latest start that still meets those bounds with one more
  member, `now + fixed_s / n` (past it the queued lose more than is saved),
  and the oldest member's arrival plus one full batch's cost. At light load
  `g` is long, so nothing ever waits; a backend whose cost is all per item
  (`fixed_s` 0) gains nothing from batching, so it never waits either; as a
  batch gathers, each further wait must pay for more requests, so waits
  shorten as load grows and a closed loop of callers is not held back.

Under load, batches grow without waiting: requests queue while the workers
are busy and the next free worker takes them together (up to the limit). A
simulation with Poisson arrivals (tests/domain/test_batching.py) finds this
within a few percent of the best fixed wait at every load, and the rule above
keeps light load exactly as fast as unbatched.

Pure: the caller passes the time in; nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from actorserve.domain.admission import Queued
from actorserve.domain.config import ServingConfig

__all__ = [
    "AdaptiveBatcher",
    "ArrivalGaps",
    "BatchCost",
    "BatchCostModel",
    "Decision",
    "decide",
    "hopeless",
    "needed_batch",
]


@dataclass(frozen=True, slots=True)
class BatchCost:
    """A backend's fitted batch cost: `cost(n) = per_item_s * n + fixed_s` seconds (both >= 0)."""

    per_item_s: float
    fixed_s: float
    samples: int = 0
    """Batches the fit is based on."""

    def of(self, n: int) -> float:
        """Seconds a batch of `n` requests is expected to take."""
        return self.per_item_s * n + self.fixed_s


class BatchCostModel:
    """Least-squares fit of batch duration against batch size over the last `window` batches.

    Refitted in O(1) per batch from running sums (recomputed from the window
    every `window` batches so rounding never drifts). The fit stays sane on
    poor data: with fewer than two distinct sizes the intercept cannot be
    told from the slope (under heavy load every batch is full): the last
    slope fitted on two or more sizes is kept and the intercept refitted,
    or, with no such slope yet, the cost is taken as proportional
    (`fixed_s` 0: no evidence that batching saves anything); a negative slope (noise on a
    backend flat in n) becomes a flat cost at the mean; a negative intercept
    becomes a line through the origin.

    Args:
        window: how many recent batches the fit uses.
        min_samples: batches needed before `cost` answers (None before).
    """

    __slots__ = (
        "_batches",
        "_cost",
        "_sd",
        "_since_resum",
        "_sizes",
        "_slope",
        "_sn",
        "_snd",
        "_snn",
        "min_samples",
        "window",
    )

    def __init__(self, window: int = 64, *, min_samples: int = 1) -> None:
        if window < 2 or min_samples < 1:
            msg = f"window must be >= 2 and min_samples >= 1 (got {window}, {min_samples})"
            raise ValueError(msg)
        self.window = window
        self.min_samples = min_samples
        self._batches: deque[tuple[int, float]] = deque()
        self._sizes: dict[int, int] = {}
        self._sn = self._sd = self._snn = self._snd = 0.0
        self._since_resum = 0
        self._cost: BatchCost | None = None
        self._slope: float | None = None

    def __len__(self) -> int:
        return len(self._batches)

    def record(self, size: int, duration_s: float) -> None:
        """One batch of `size` requests took `duration_s`; refit (nonsense samples are ignored)."""
        if size < 1 or not math.isfinite(duration_s) or duration_s < 0:
            return
        window = self._batches
        if len(window) >= self.window:
            old_n, old_d = window.popleft()
            self._add(old_n, old_d, -1)
        window.append((size, duration_s))
        self._add(size, duration_s, 1)
        self._since_resum += 1
        if self._since_resum >= self.window:
            self._resum()
        self._cost = self._fit()

    @property
    def cost(self) -> BatchCost | None:
        """The current fit, or None until `min_samples` batches were recorded."""
        return self._cost

    def _add(self, n: int, d: float, sign: int) -> None:
        self._sn += sign * n
        self._sd += sign * d
        self._snn += sign * n * n
        self._snd += sign * n * d
        left = self._sizes.get(n, 0) + sign
        if left:
            self._sizes[n] = left
        else:
            del self._sizes[n]

    def _resum(self) -> None:
        self._since_resum = 0
        window = self._batches
        self._sn = float(sum(n for n, _ in window))
        self._sd = math.fsum(d for _, d in window)
        self._snn = float(sum(n * n for n, _ in window))
        self._snd = math.fsum(n * d for n, d in window)

    def _fit(self) -> BatchCost | None:
        count = len(self._batches)
        if count < self.min_samples:
            return None
        sn, sd, snn, snd = self._sn, self._sd, self._snn, self._snd
        mean_d = max(sd / count, 0.0)
        if len(self._sizes) < 2:
            proportional = max(sd / sn, 0.0)
            if self._slope is None:
                return BatchCost(proportional, 0.0, count)
            slope = min(self._slope, proportional)
            return BatchCost(slope, max(mean_d - slope * (sn / count), 0.0), count)
        mean_n = sn / count
        var = snn / count - mean_n * mean_n
        cov = snd / count - mean_n * mean_d
        slope = cov / var if var > 0 else 0.0
        intercept = mean_d - slope * mean_n
        if slope < 0:
            fit = BatchCost(0.0, mean_d, count)
        elif intercept < 0:
            fit = BatchCost(max(snd / snn, 0.0), 0.0, count)
        else:
            fit = BatchCost(slope, intercept, count)
        self._slope = fit.per_item_s
        return fit


class ArrivalGaps:
    """An exponentially weighted mean of the gaps between arrivals.

    Args:
        alpha: the weight of each new gap.
    """

    __slots__ = ("_alpha", "_last", "_mean")

    def __init__(self, alpha: float = 0.2) -> None:
        self._alpha = alpha
        self._last: float | None = None
        self._mean: float | None = None

    def observe(self, now: float) -> None:
        """A request arrived at `now`."""
        last = self._last
        self._last = now
        if last is None:
            return
        gap = max(now - last, 0.0)
        mean = self._mean
        self._mean = gap if mean is None else mean + self._alpha * (gap - mean)

    def expected(self, now: float) -> float | None:
        """The expected gap before the next arrival (None until two arrivals).

        At least the time since the last arrival: a quiet spell is evidence
        that traffic slowed, before the next gap is even seen.
        """
        if self._mean is None or self._last is None:
            return None
        return max(self._mean, now - self._last)


@dataclass(frozen=True, slots=True)
class Decision:
    """What a free worker should do: take the first `take` requests now, or wait until `wait_until`."""

    take: int
    wait_until: float | None = None
    """Set (with `take` 0) when a partial batch should wait for more, at most until this time."""


def hopeless(now: float, deadline: float, cost: BatchCost | None) -> bool:
    """True when a request cannot meet `deadline` even if it ran alone, started now."""
    return cost is not None and now + cost.of(1) > deadline


def _objective(item: Queued, now: float, first: float, max_latency_s: float | None) -> float:
    """When a batch holding `item` should finish for its latency objective (inf: none, or out of reach)."""
    if max_latency_s is None:
        return math.inf
    objective = item.enqueued_at + max_latency_s
    # an objective already out of reach alone no longer shapes batches: shrinking them would only slow the rest
    return objective if now + first <= objective else math.inf


def decide(
    now: float,
    pending: Sequence[Queued],
    *,
    limit: int,
    cost: BatchCost | None,
    max_latency_s: float | None = None,
    gap_s: float | None = None,
    workers: int = 1,
) -> Decision:
    """How many of `pending` (live requests, oldest first) a free worker takes now, or how long to wait.

    Args:
        now: the current monotonic time.
        pending: the queued requests still to answer, oldest first (none hopeless).
        limit: most requests the worker may take (`max_batch_size`, and the concurrency cap's room).
        cost: the fitted batch cost, or None while unknown.
        max_latency_s: the latency objective from each request's arrival, or None for deadlines only.
        gap_s: the expected gap before the next arrival, or None (unknown, or draining: never wait).
        workers: the replicas sharing the traffic (for the batch size the arrival rate needs).

    Returns:
        `Decision(k)` to send the first k now (k >= 1 whenever `pending` and `limit` are non-empty),
        or `Decision(0, wait_until=T)` to wait for more until T at the latest.
    """
    n = min(len(pending), limit)
    if n <= 0:
        return Decision(0)
    if cost is None:
        return Decision(n)
    first = cost.of(1)
    deadline = objective = math.inf
    hard = soft = 0  # the longest prefix meeting every deadline, and also every reachable objective
    for i in range(n):
        item = pending[i]
        deadline = min(deadline, item.deadline)
        objective = min(objective, _objective(item, now, first, max_latency_s))
        done_at = now + cost.of(i + 1)
        if i and done_at > deadline:
            break
        hard = i + 1
        if soft == i and (i == 0 or done_at <= objective):
            soft = i + 1
    need = 1 if gap_s is None else needed_batch(gap_s, cost, workers, limit)
    # the objective shrinks a batch only down to what the load needs: below that the queue grows, and misses more
    take = max(soft, min(need, hard))
    fixed = cost.fixed_s
    if take < n or take >= limit or gap_s is None or take * (gap_s + cost.per_item_s) >= fixed:
        return Decision(take)  # cut by a bound, full, not waiting, or the queued would lose more than is saved
    bound = min(deadline, objective)
    until = min(now + fixed / take, bound - cost.of(take + 1), pending[0].enqueued_at + cost.of(limit))
    if until <= now or now + gap_s > until:
        return Decision(take)  # the next request is not expected in time
    return Decision(0, wait_until=until)


def needed_batch(gap_s: float, cost: BatchCost, workers: int, limit: int) -> int:
    """The batch size at which `workers` replicas just keep up with one arrival every `gap_s` (at most `limit`).

    `workers` batches of n take `cost(n) = a·n + b` each, so they serve `workers·n / (a·n + b)`
    requests a second; that equals the arrival rate `1 / gap_s` at `n = b / (workers·gap_s - a)`.
    Dispatching whatever is queued whenever a worker frees settles at this size by itself, as long
    as batches may still grow to absorb a burst.
    """
    spare = workers * gap_s - cost.per_item_s
    if spare <= 0:
        return limit  # not even full batches keep up
    return max(1, min(limit, math.ceil(cost.fixed_s / spare)))


class AdaptiveBatcher:
    """The adaptive-batching state of one version: its cost fit and arrival gaps, and the decisions they feed.

    Args:
        max_latency_s: the latency objective (None: deadlines only).
        window: batches the cost fit uses.
        min_samples: batches measured before the fit is trusted (to shed, or to wait): one slow first
            call (a warm-up) must not shed requests on its own.
    """

    __slots__ = ("_gaps", "_max_latency_s", "model")

    def __init__(self, max_latency_s: float | None = None, *, window: int = 64, min_samples: int = 3) -> None:
        self._max_latency_s = max_latency_s
        self.model = BatchCostModel(window, min_samples=min_samples)
        self._gaps = ArrivalGaps()

    @classmethod
    def of(cls, config: ServingConfig) -> AdaptiveBatcher | None:
        """The batcher `config` asks for (`batch_wait_ms = "auto"`), or None for a fixed wait."""
        if not config.adaptive_batching:
            return None
        latency = config.max_latency_ms
        return cls(None if latency is None else latency / 1000.0)

    @property
    def cost(self) -> BatchCost | None:
        """The fitted batch cost, or None while too few batches were measured."""
        return self.model.cost

    def arrived(self, now: float) -> None:
        """A request arrived."""
        self._gaps.observe(now)

    def finished(self, size: int, duration_s: float) -> None:
        """A batch of `size` ran in `duration_s`."""
        self.model.record(size, duration_s)

    def hopeless(self, now: float, deadline: float) -> bool:
        """True when a request with `deadline` cannot meet it even alone."""
        return hopeless(now, deadline, self.model.cost)

    def choose(
        self, now: float, pending: Sequence[Queued], limit: int, *, workers: int, waiting: bool
    ) -> tuple[int, float | None]:
        """`decide` for a free worker: `(take, wait_until)`; `waiting` False never waits (draining, pipelining)."""
        gap = self._gaps.expected(now) if waiting else None
        d = decide(
            now,
            pending,
            limit=limit,
            cost=self.model.cost,
            max_latency_s=self._max_latency_s,
            gap_s=gap,
            workers=workers,
        )
        return d.take, d.wait_until
