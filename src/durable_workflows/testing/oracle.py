"""The durable oracle: a durable run on the embedded backend must equal the in-process run.

Both sides answer requests the same way: each time the run waits, the oldest open request is
answered with ``responses(event)``, and the run goes on until it waits again. The durable side
knows the run waits when the embedded backend is idle (`DurableWorkflowHost.settle`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..errors import DurableWorkflowsError, WorkflowFailedError
from ..graph.workflow import Workflow
from ..hosting.host import DurableWorkflowHost
from ..runtime.events import WaitingForInputEvent, WorkflowEvent
from .runner import InProcessResult
from .scripted import ScriptedRunner, one_at_a_time

_STATUS = {"COMPLETED": "completed", "FAILED": "failed", "RUNNING": "waiting"}


class DurableMismatchError(DurableWorkflowsError, AssertionError):
    """A durable run differed from the in-process run of the same input and responses."""


async def assert_durable_matches_in_process(
    workflow: Workflow,
    input: Any,
    *,
    responses: Callable[[WaitingForInputEvent], Any] | None = None,
    host: DurableWorkflowHost | None = None,
    timeout: float = 60.0,
) -> InProcessResult:
    """Run `input` in process and durably; raise `DurableMismatchError` where they differ.

    Compared: the status, the result, the outputs and the event stream (every field but the
    run id). `responses` answers each request (none: both runs stop waiting). `host` is a
    started embedded host that hosts `workflow`; by default a fresh one is started. Returns
    the in-process result.
    """
    choose = one_at_a_time(responses) if responses is not None else (lambda _open: ())
    expected = ScriptedRunner(workflow, choose).run(input)
    async with _hosting(workflow, host) as running:
        status, outputs, events = await _durable_run(running, workflow, input, responses, timeout)
    registry = workflow.registry
    _same("status", expected.status, status)
    if status == "completed":
        _same("outputs", expected.outputs, outputs)
    _same_events(
        [_comparable(e.to_dict(registry)) for e in expected.events],
        [_comparable(e.to_dict(registry)) for e in events],
    )
    return expected


@contextlib.asynccontextmanager
async def _hosting(
    workflow: Workflow, host: DurableWorkflowHost | None
) -> AsyncIterator[DurableWorkflowHost]:
    if host is not None:
        yield host
        return
    async with DurableWorkflowHost(workflows=[workflow]) as started:
        yield started


async def _durable_run(
    host: DurableWorkflowHost,
    workflow: Workflow,
    input: Any,
    responses: Callable[[WaitingForInputEvent], Any] | None,
    timeout: float,
) -> tuple[str, list[Any], list[WorkflowEvent]]:
    run = await host.client.stream(workflow, input)
    while True:
        await host.settle(timeout)
        status = await run.get_status()
        if not status.is_active or not status.pending_requests or responses is None:
            break
        oldest = status.pending_requests[0]
        await run.send_response(oldest, responses(oldest))
    outputs: list[Any] = []
    if status.status == "COMPLETED":
        await run.wait_for_completion(timeout)
        outputs = run.outputs
    elif status.status == "FAILED":
        with contextlib.suppress(WorkflowFailedError):
            await run.wait_for_completion(timeout)
    events = []
    async for event in run.watch_stream():
        events.append(event)
        if event.sequence >= status.last_sequence and status.is_active:
            break
    return _STATUS.get(status.status, status.status), outputs, events


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "run_id"}


def _same(what: str, in_process: Any, durable: Any) -> None:
    if in_process != durable:
        msg = f"the durable run differs in its {what}:\n  in process: {in_process!r:.500}\n  durable:    {durable!r:.500}"
        raise DurableMismatchError(msg)


def _same_events(in_process: list[dict[str, Any]], durable: list[dict[str, Any]]) -> None:
    for index, (mine, theirs) in enumerate(zip(in_process, durable, strict=False)):
        if mine != theirs:
            msg = (
                f"the durable run's event {index + 1} differs:\n  in process: {mine!r:.500}\n"
                f"  durable:    {theirs!r:.500}"
            )
            raise DurableMismatchError(msg)
    if len(in_process) != len(durable):
        longer = in_process if len(in_process) > len(durable) else durable
        side = "in process" if longer is in_process else "durably"
        msg = (
            f"the runs emitted {len(in_process)} events in process and {len(durable)} durably; "
            f"the first extra one ({side}): {longer[min(len(in_process), len(durable))]!r:.500}"
        )
        raise DurableMismatchError(msg)
