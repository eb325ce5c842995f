"""Shared by the type tests: run one workflow durably and in-process and compare exactly.

`typed` spells a value with every type in it, so ``(1, "x")`` and ``[1, "x"]``, ``{1}`` and
``[1]``, ``1`` and ``1.0`` or ``True`` compare different, as a user would see them differ.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from durable_workflows import DurableWorkflowHost, Workflow, WorkflowEvent, WorkflowFailedError
from durable_workflows.testing.runner import InProcessRunner

TIMEOUT = 60.0


def typed(value: Any) -> Any:
    """`value` as nested (type name, content) pairs: equal only if the types are equal too."""
    name = type(value).__qualname__
    if isinstance(value, BaseModel):
        return (name, {k: typed(getattr(value, k)) for k in type(value).model_fields})
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (name, {f.name: typed(getattr(value, f.name)) for f in dataclasses.fields(value)})
    if isinstance(value, (list, tuple)):
        return (name, [typed(item) for item in value])
    if isinstance(value, (set, frozenset)):
        return (name, sorted((typed(item) for item in value), key=repr))
    if isinstance(value, dict):
        return (name, sorted(((typed(k), typed(v)) for k, v in value.items()), key=repr))
    return (name, value)


def event_view(event: WorkflowEvent) -> Any:
    """An event without its run id and sequence, values `typed`."""
    fields = {
        f.name: typed(getattr(event, f.name))
        for f in dataclasses.fields(event)
        if f.name not in ("run_id", "sequence")
    }
    return (event.type, fields)


@dataclass
class Outcome:
    """What a run produced, as a user of either driver sees it."""

    status: str
    result: Any = None
    outputs: list[Any] = field(default_factory=list)
    events: list[WorkflowEvent] = field(default_factory=list)

    @property
    def failure(self) -> WorkflowEvent | None:
        return next((e for e in self.events if e.type == "workflow_failed"), None)

    def view(self) -> Any:
        return (self.status, typed(self.result), typed(self.outputs), self.events_view())

    def events_view(self) -> list[Any]:
        return [event_view(e) for e in self.events]


async def run_durably(
    host: DurableWorkflowHost, workflow: Workflow, value: Any
) -> tuple[str, Outcome]:
    """Stream a run to its end; also read its result and outputs from the orchestration."""
    run = await host.client.stream(workflow, value)

    async def watch() -> list[WorkflowEvent]:
        return [event async for event in run.watch_stream()]

    events = await asyncio.wait_for(watch(), TIMEOUT)
    try:
        result = await run.wait_for_completion(timeout=TIMEOUT)
    except WorkflowFailedError:
        return run.run_id, Outcome("failed", None, [], events)
    return run.run_id, Outcome("completed", result, list(run.outputs), events)


def run_locally(workflow: Workflow, value: Any, run_id: str) -> Outcome:
    """The in-process reference, with the durable run's id (so agent thread ids agree)."""
    local = InProcessRunner(workflow).run(value, run_id=run_id)
    return Outcome(local.status, local.result, list(local.outputs), list(local.events))


def both(host: DurableWorkflowHost, workflow: Workflow, value: Any) -> tuple[Outcome, Outcome]:
    """(durable, in-process) outcomes of one input."""

    async def body() -> tuple[str, Outcome]:
        try:
            return await run_durably(host, workflow, value)
        finally:
            await host.client.close()  # this loop's client; the next test has its own loop

    run_id, durable = asyncio.run(body())
    return durable, run_locally(workflow, value, run_id)


def assert_same(host: DurableWorkflowHost, workflow: Workflow, value: Any) -> Outcome:
    """Durable == in-process: status, result, outputs and every event, types included."""
    durable, local = both(host, workflow, value)
    assert durable.view() == local.view()
    return durable
