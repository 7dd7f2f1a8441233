"""The exporter's batching metrics: `actorserve_batch_size` and `actorserve_batch_cost_seconds{term}`."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from actorserve.adapters.prometheus_exporter import PrometheusExporter
from actorserve.domain import BatchMetricsSink
from tests.fakes import make_version


def samples(exporter: PrometheusExporter) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(exporter.text()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_batch_sizes_are_a_histogram_and_the_fitted_cost_two_gauges() -> None:
    exporter = PrometheusExporter()
    assert isinstance(exporter, BatchMetricsSink)
    version = make_version("v1", "chat")
    for size in (1, 3, 3, 16):
        exporter.batch_finished(version, size, 0.01)
    exporter.batch_cost_changed(version, 0.001, 0.009)
    m = samples(exporter)
    base = (("model", "chat"), ("version", "v1"))
    assert m[("actorserve_batch_size_count", base)] == 4
    assert m[("actorserve_batch_size_sum", base)] == 23
    assert m[("actorserve_batch_size_bucket", tuple(sorted((*base, ("le", "4.0")))))] == 3
    assert m[("actorserve_batch_cost_seconds", tuple(sorted((*base, ("term", "per_item")))))] == 0.001
    assert m[("actorserve_batch_cost_seconds", tuple(sorted((*base, ("term", "fixed")))))] == 0.009
