"""The durable oracle: a durable run on the embedded backend must equal the in-process run.

Both sides answer requests the same way: each time the run waits, the oldest open request is
answered with ``responses(event)``, and the run goes on until it waits again. The durable side
knows the run waits when the embedded backend is idle (`DurableWorkflowHost.settle`). When
``responses`` declines (`NO_RESPONSE`), time passes: the in-process clock jumps to the next
deadline (C1) and the durable side moves its virtual clock by the same amount.
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
from .runner import NO_RESPONSE, InProcessResult
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
    skips = [jump - runner.start for jump in runner.jumps]
    async with _hosting(workflow, host) as running:
        status, outputs, events = await _durable_run(
            running, workflow, input, responses, timeout, skips, named_events
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
    responses: Callable[[WaitingForInputEvent], Any] | None,
    timeout: float,
    skips: list[timedelta],
    named_events: bool,
) -> tuple[str, list[Any], list[WorkflowEvent]]:
    run = await host.client.stream(workflow, input)
    start = _virtual_now(host) if skips else None
    while True:
        await host.settle(timeout)
        status = await run.get_status()
        if not status.is_active:
            break
        pending = status.pending_requests
        answer = NO_RESPONSE if not pending or responses is None else responses(pending[0])
        if answer is not NO_RESPONSE:
            alone = [r for r in pending if r.port_id == pending[0].port_id] == [pending[0]]
            if named_events and alone:
                await run.raise_event(pending[0].port_id, answer)
            else:
                await run.send_response(pending[0], answer)
        elif skips and start is not None:
            await host.advance(start + skips.pop(0) - _virtual_now(host))
        else:
            break
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
