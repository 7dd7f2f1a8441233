from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from actorserve.domain import ErrorCode, Ewma, LatencyHistogram, MetricsRecorder, Outcome


def exact_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


@given(st.lists(st.floats(min_value=0.01, max_value=100_000), min_size=1, max_size=400), st.sampled_from([50, 95, 99]))
def test_percentiles_are_within_five_percent_of_exact(values: list[float], q: int) -> None:
    h = LatencyHistogram()
    for v in values:
        h.record(v)
    exact = exact_percentile(values, q)
    assert abs(h.percentile(q) - exact) <= 0.05 * exact + 1e-9


def test_histogram_memory_is_bounded_whatever_the_count() -> None:
    h = LatencyHistogram()
    size = len(h._counts)
    for i in range(50_000):
        h.record(i % 977 * 0.37)
    assert len(h._counts) == size
    assert h.count == 50_000


def test_empty_histogram_reports_zero() -> None:
    h = LatencyHistogram()
    assert h.percentile(99) == 0.0
    assert h.mean_ms == 0.0


def test_ewma_starts_at_the_first_sample_then_smooths() -> None:
    e = Ewma(alpha=0.5)
    assert e.value is None
    assert e.update(10) == 10
    assert e.update(20) == 15


def test_recorder_snapshot_counts_successes_failures_codes_tokens_and_cost() -> None:
    r = MetricsRecorder()
    r.record(Outcome("a", True, 10.0, tokens=5, cost_usd=0.5))
    r.record(Outcome("b", False, 30.0, ErrorCode.TIMEOUT))
    r.record(Outcome("c", False, 1.0, ErrorCode.OVERLOADED))
    m = r.snapshot("v1", timestamp=datetime.now(UTC), queue_depth=2, in_flight=1)
    assert (m.total_requests, m.successful_requests, m.failed_requests) == (3, 1, 2)
    assert m.errors_by_code == {"timeout": 1, "overloaded": 1}
    assert (m.tokens_processed, m.cost_usd) == (5, 0.5)
    assert (m.queue_depth, m.in_flight) == (2, 1)
    assert math.isclose(m.avg_latency_ms, 41 / 3)
    assert m.max_latency_ms == 30.0


def test_snapshots_are_copies_not_live_counters() -> None:
    r = MetricsRecorder()
    first = r.snapshot("v1", timestamp=datetime.now(UTC))
    r.record(Outcome("a", False, 1.0, ErrorCode.TIMEOUT))
    assert first.total_requests == 0
    assert first.errors_by_code == {}
