"""OpenTelemetry SDK providers with in-memory exporters, installed once for these tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self, prefix: str = "workflow.") -> list[ReadableSpan]:
        """This library's finished spans (durabletask's own spans left out)."""
        return [s for s in self.spans.get_finished_spans() if s.name.startswith(prefix)]

    def counters(self) -> dict[str, Any]:
        """Sum of each of this library's counters and the count of its histogram."""
        found: dict[str, Any] = {}
        data = self.metrics.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                if scope.scope.name != "durable_workflows":
                    continue
                for metric in scope.metrics:
                    points = list(metric.data.data_points)
                    if metric.name.endswith("duration"):
                        found[metric.name] = sum(p.count for p in points)
                    else:
                        found[metric.name] = sum(p.value for p in points)
        return found


_installed: Telemetry | None = None


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    """The process-wide in-memory exporter and metric reader, emptied for each test."""
    global _installed
    if _installed is None:
        exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _installed = Telemetry(exporter, reader)
    _installed.spans.clear()
    _installed.metrics.get_metrics_data()  # cumulative: tests compare before and after
    yield _installed
