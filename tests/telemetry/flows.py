"""The workflow of the cross-process telemetry test (imported by the worker process)."""

from __future__ import annotations

from durable_workflows import WorkflowBuilder, executor


@executor(id="first")
def first(x: int) -> int:
    return x + 1


@executor(id="second")
def second(x: int) -> int:
    return x * 10


CROSS = WorkflowBuilder(first, name="OtelCross").add_edge(first, second).build()
