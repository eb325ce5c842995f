"""The durable oracle: a durable run on the embedded backend must equal the in-process run.

The in-process run goes first: each time it waits, the oldest open request is answered with
``responses(event)``; when that declines (`NO_RESPONSE`), or the run waits on a timer, its
clock jumps to the next due time (C1). Its trail of answers and jumps is then played to the
durable run, one step each time it waits (the embedded backend is idle,
`DurableWorkflowHost.settle`): the same answer sent, or its virtual clock moved by the same
amount.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
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
    named_events: bool = False,
) -> InProcessResult:
    """Run `input` in process and durably; raise `DurableMismatchError` where they differ.

    Compared: the status, the result, the outputs and the event stream (every field but the
    run id). `responses` answers each request (none: both runs stop waiting; `NO_RESPONSE`:
    time passes until the next deadline). With `named_events`, the durable side answers a
    request that is alone at its port with a named event (`raise_event`, P10) instead of
    `send_response`. `host` is a started embedded host that hosts `workflow` (with
    ``clock="virtual"`` if time has to pass); by default a fresh one is started. Returns the
    in-process result.
    """
    choose = one_at_a_time(responses) if responses is not None else (lambda _open: ())
    runner = ScriptedRunner(workflow, choose)
    expected = runner.run(input)
    trail = [
        (kind, what - runner.start if kind == "jump" else what) for kind, what in runner.trail
    ]
    async with _hosting(workflow, host) as running:
        status, outputs, events = await _durable_run(
            running, workflow, input, trail, timeout, named_events
        )
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
    async with DurableWorkflowHost(workflows=[workflow], clock="virtual") as started:
        yield started


async def _durable_run(
    host: DurableWorkflowHost,
    workflow: Workflow,
    input: Any,
    trail: list[tuple[str, Any]],
    timeout: float,
    named_events: bool,
) -> tuple[str, list[Any], list[WorkflowEvent]]:
    run = await host.client.stream(workflow, input)
    start = _virtual_now(host) if any(kind == "jump" for kind, _ in trail) else None
    for kind, what in trail:
        await host.settle(timeout)
        if kind == "jump":
            assert start is not None
            behind = start + what - _virtual_now(host)
            if behind > timedelta(0):  # a later child run's jumps may repeat earlier times (W3)
                await host.advance(behind)
            continue
        request_id, answer = what
        pending = await run.pending_requests()
        found = [r for r in pending if r.request_id == request_id]
        if not found:
            msg = f"the durable run does not wait for {request_id!r} where the in-process run did"
            raise DurableMismatchError(msg)
        request = found[0]
        alone = [r for r in pending if r.port_id == request.port_id] == [request]
        if named_events and alone:
            await run.raise_event(request.port_id, answer)
        else:
            await run.send_response(request, answer)
    await host.settle(timeout)
    status = await run.get_status()
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


def _virtual_now(host: DurableWorkflowHost) -> datetime:
    """The host's virtual time."""
    try:
        clock = host.clock
    except DurableWorkflowsError as exc:
        msg = "the in-process run let time pass (NO_RESPONSE); give the oracle a host with clock='virtual'"
        raise DurableMismatchError(msg) from exc
    return datetime.fromtimestamp(clock.time()).astimezone()


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
