"""A worker process that exports its spans as JSON lines (for test_processes).

Usage: python otel_worker.py ADDRESS SPANS_FILE   (serves until SIGTERM)
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flows import CROSS

from durable_workflows import DurableWorkflowHost


class JsonLines(SpanExporter):
    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a", encoding="utf-8") as out:
            for span in spans:
                record = {
                    "name": span.name,
                    "trace_id": span.context.trace_id,
                    "span_id": span.context.span_id,
                    "parent_id": span.parent.span_id if span.parent else None,
                }
                out.write(json.dumps(record) + "\n")
        return SpanExportResult.SUCCESS


def main(address: str, path: str) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLines(path)))
    trace.set_tracer_provider(provider)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with DurableWorkflowHost(workflows=[CROSS], connection_string=address, mode="worker"):
        print("ready", flush=True)
        stop.wait()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
