"""The ``status`` command: how a run ended, or what it waits for, in the workflow's own terms."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import WorkflowNotFoundError
from ..graph.workflow import Workflow
from ..hosting.run_info import parse_failure, summarize
from ..hosting.runs import StreamingWorkflowRun
from ..rendering import RunOverlay, render
from ..runtime.events import WorkflowEvent
from .runs import check_render_path, events_of, open_client, show_value
from .targets import UsageError, load_workflow
from .values import json_shape


def add_status_command(sub: Any, cs_help: str, token_help: str) -> None:
    """Add ``status`` to the subcommand parsers."""
    p = sub.add_parser("status", help="show how a run ended, or what it is waiting for")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--connection-string", help=cs_help)
    p.add_argument("--token", help=token_help)
    p.add_argument(
        "-w", "--workflow", metavar="TARGET", help="the run's workflow: shows what requests expect"
    )
    p.add_argument("--render", type=Path, metavar="PATH", help="draw the run (needs --workflow)")
    p.set_defaults(handler=lambda args: asyncio.run(status_command(args)))


async def status_command(args: argparse.Namespace) -> int:
    """Print a run's state: its result and outputs, its error, or its pending requests."""
    if args.render and not args.workflow:
        raise UsageError("--render needs --workflow TARGET")
    check_render_path(args.render)
    workflow = load_workflow(args.workflow) if args.workflow else None
    client = open_client(args, [workflow] if workflow else [])
    try:
        state = await client.durable_client.get_orchestration_state(args.run_id)
        if state is None:
            raise WorkflowNotFoundError(f"no run with id {args.run_id!r}")
        for line in describe_state(args.run_id, state, workflow, args.workflow):
            print(line)
        if args.render and workflow is not None:
            await draw(await client.get_run(args.run_id), args.render)
        return 0
    finally:
        await client.close()


def describe_state(
    run_id: str, state: Any, workflow: Workflow | None, target: str | None = None
) -> list[str]:
    """The lines `status` prints for a durabletask orchestration state (`target`: the -w)."""
    summary = summarize(state)
    if summary is None:
        return [f"run {run_id} is not a workflow run (a {state.name!r} orchestration)"]
    custom = json.loads(state.serialized_custom_status or "{}")
    head = f"run {run_id} of {summary.workflow}:"
    when = f"updated {summary.updated_at:%Y-%m-%d %H:%M:%S} UTC"
    if summary.version:
        when += f", version {summary.version}"
    progress = f"superstep {summary.superstep}, {custom.get('sequence', 0)} events"
    if summary.status == "completed":
        data = json.loads(state.serialized_output or "{}")
        outputs = [plain(v) for v in data.get("outputs", [])]
        lines = [f"{head} completed ({when})", f"  result: {show_value(plain(data.get('result')))}"]
        if len(outputs) > 1:
            lines.append(f"  outputs: {show_value(outputs)}")
        return lines
    if summary.status == "failed":
        failure = parse_failure(state.failure_details.message if state.failure_details else "")
        where = f" in executor {failure.executor_id!r}" if failure.executor_id else ""
        message = failure.message
        if message == f"A {state.name!r} orchestrator was not registered.":
            message = (
                f"the worker that picked it up does not serve workflow {summary.workflow!r}; give "
                "every worker of the task hub the workflow (durable-workflows worker TARGET...)"
            )
        return [f"{head} failed{where} ({when})", f"  error: {failure.type}: {message}"]
    if summary.status == "cancelled":
        reason = json.loads(state.serialized_output) if state.serialized_output else None
        return [f"{head} cancelled ({when})" + (f": {show_value(reason)}" if reason else "")]
    if summary.status == "waiting":
        requests = custom.get("requests") or []
        count = f"{len(requests)} request{'s' * (len(requests) != 1)}"
        lines = [f"{head} waiting for input ({count}; {progress}; {when})"]
        for request in requests:
            lines += describe_request(run_id, request, workflow, target or "TARGET")
        if workflow is None:
            lines.append("  (-w TARGET also shows the response each request expects)")
        return lines
    if summary.status == "pending":
        return [f"{head} pending: no worker has started it yet ({when})"]
    suspended = " (suspended)" if state.runtime_status.name == "SUSPENDED" else ""
    return [f"{head} running{suspended} ({progress}; {when})"]


def describe_request(
    run_id: str, request: dict[str, Any], workflow: Workflow | None, target: str
) -> list[str]:
    """A pending request: its id, port, payload, expected response and how to answer it."""
    request_id, port_id = request["request_id"], request["port_id"]
    lines = [f"  request {request_id} on port {port_id}: {show_value(plain(request['request']))}"]
    port = workflow.ports.get(port_id) if workflow else None
    if port is not None:
        lines.append(f"    expects {json_shape(port.response_type)}")
    lines.append(f"    answer: durable-workflows respond {run_id} {request_id} JSON -w {target}")
    return lines


def plain(envelope: Any) -> Any:
    """The JSON a value envelope carries (``{"type": ..., "data": ...}``, nested for containers)."""
    if not isinstance(envelope, dict) or "type" not in envelope:
        return envelope
    data: Any = envelope.get("data")
    kind = envelope["type"]
    if kind in ("list", "tuple", "set", "frozenset"):
        return [plain(item) for item in data]
    if kind == "dict":
        return {key: plain(value) for key, value in data.items()}
    if kind == "mapping":  # keys that are not strings: [key, value] pairs
        return [[plain(key), plain(value)] for key, value in data]
    return data


async def draw(run: Any, path: Path) -> None:
    """Render a streamed run's state to `path` (runs started without streaming have no events)."""
    if not isinstance(run, StreamingWorkflowRun):
        print(
            f"not rendered: run {run.run_id} was started without streaming, so it recorded "
            "no events (start runs with `durable-workflows run` or client.stream())",
            file=sys.stderr,
        )
        return
    status = await run.get_status()
    events = await read_events(run, status.last_sequence)
    print(render(run.workflow, path, overlay=RunOverlay.from_events(events)))


async def read_events(
    run: StreamingWorkflowRun, last: int, timeout: float = 10.0
) -> list[WorkflowEvent]:
    """The run's recorded events up to sequence `last` (what arrives within `timeout`)."""
    events: list[WorkflowEvent] = []

    async def collect() -> None:
        async with events_of(run) as stream:
            async for event in stream:
                events.append(event)
                if event.sequence >= last:
                    return

    if last:
        try:
            await asyncio.wait_for(collect(), timeout)
        except asyncio.TimeoutError:
            print("warning: not every event could be read", file=sys.stderr)
    return events
