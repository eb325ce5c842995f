"""The ``run``, ``worker`` and ``respond`` commands of ``durable-workflows``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path
from typing import Any

from ..errors import InvalidResponseError
from ..graph.builder import WorkflowBuilder
from ..graph.workflow import Workflow
from ..hosting.auth import with_token
from ..hosting.client import WorkflowClient
from ..hosting.connection import ENV_VAR, parse_connection_string, resolve_connection
from ..hosting.runs import StreamingWorkflowRun, WorkflowRun
from ..rendering import RenderingError, RunOverlay, render
from ..rendering.output import output_format
from ..runtime.events import (
    CustomEvent,
    ExecutorCompletedEvent,
    ExecutorFailedEvent,
    ExecutorInvokedEvent,
    ResponseReceivedEvent,
    WaitingForInputEvent,
    WorkflowCompletedEvent,
    WorkflowEvent,
    WorkflowFailedEvent,
    WorkflowOutputEvent,
    WorkflowStartedEvent,
)
from ..sidecar.auth import TOKEN_ENV_VAR
from ..values.serialization import to_json
from ..values.typing_utils import a_type
from .prompt import read_line
from .targets import UsageError, load_target, load_workflow, parse_json
from .values import json_shape, parse_value

MISSING: Any = object()
"""No prepared answer for a request."""


CS_HELP = f"Durable Task Scheduler connection string or sidecar address (default: ${ENV_VAR})"
TOKEN_HELP = f"the token of a sidecar started with --token (default: ${TOKEN_ENV_VAR})"


def add_run_commands(sub: Any) -> None:
    """Add ``run``, ``worker`` and ``respond`` to the subcommand parsers."""
    cs_help, token_help = CS_HELP, TOKEN_HELP

    p = sub.add_parser("run", help="run a workflow and print its events")
    p.add_argument("target", metavar="TARGET")
    p.add_argument(
        "--input", help="the workflow input as JSON, or bare text where it takes a string"
    )
    p.add_argument("--connection-string", help=cs_help + "; without one, an embedded backend")
    p.add_argument("--token", help=token_help)
    p.add_argument(
        "--responses",
        help="answers to requests as JSON: an object keyed by request id or port id, "
        "or a list answered in order (otherwise a terminal prompts for them)",
    )
    p.add_argument("--run-id", help="the run id (default: a random one)")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.add_argument("--render", type=Path, metavar="PATH", help="draw the run's state at the end")
    p.set_defaults(handler=lambda args: asyncio.run(run_command(args)))

    p = sub.add_parser("worker", help="serve workflows from a task hub until interrupted")
    p.add_argument("targets", nargs="+", metavar="TARGET", help="workflows, lists or a host")
    p.add_argument("--connection-string", help=cs_help)
    p.add_argument("--token", help=token_help)
    p.add_argument("--max-concurrency", type=int, help="work items processed at once")
    p.set_defaults(handler=worker_command)

    p = sub.add_parser("respond", help="answer a pending request of a run")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("request_id", metavar="REQUEST_ID")
    p.add_argument(
        "response", metavar="JSON", help="the response as JSON (bare text where it takes a string)"
    )
    p.add_argument("--connection-string", help=cs_help)
    p.add_argument("--token", help=token_help)
    p.add_argument("-w", "--workflow", metavar="TARGET", required=True, help="the run's workflow")
    p.set_defaults(handler=lambda args: asyncio.run(respond_command(args)))


# -- run -------------------------------------------------------------------------------------


async def run_command(args: argparse.Namespace) -> int:
    """Start a run, print its events, answer its requests; 0 when it completes."""
    from ..hosting.host import DurableWorkflowHost

    check_render_path(args.render)
    workflow = load_workflow(args.target)
    value = None if args.input is None else parse_value(args.input, workflow.input_types, "--input")
    prepared = parse_json(args.responses, "--responses") if args.responses else None
    shared = resolve_connection(args.connection_string) is not None
    answers = Answers(prepared, shared_backend=shared)
    printer = EventPrinter(workflow, json_lines=args.json)
    host = DurableWorkflowHost(
        workflows=[workflow], connection_string=args.connection_string, token=args.token
    )
    async with host:
        run = await host.client.stream(workflow, value, run_id=args.run_id)
        code = await follow(run, printer, answers)
    if args.render:
        print(render(workflow, args.render, overlay=RunOverlay.from_events(printer.events)))
    return code


def check_render_path(path: Path | None) -> None:
    """A usage error, before anything runs, when `--render PATH` names no diagram format."""
    if path is not None:
        try:
            output_format(path, None)
        except RenderingError as exc:
            raise UsageError(f"--render: {exc}") from None


async def follow(run: StreamingWorkflowRun, printer: EventPrinter, answers: Answers) -> int:
    """Print a run's events until it ends (0 completed, 1 failed or left waiting)."""
    async with events_of(run) as stream:
        async for event in stream:
            printer.show(event)
            if isinstance(event, WorkflowCompletedEvent):
                return 0
            if isinstance(event, WorkflowFailedEvent):
                return 1
            if isinstance(event, WaitingForInputEvent) and not await answer(run, event, answers):
                return 1
    return 1


def events_of(run: StreamingWorkflowRun) -> aclosing[AsyncGenerator[WorkflowEvent, None]]:
    """The run's event stream, closed when the ``async with`` block is left."""
    return aclosing(run.watch_stream())


class Answers:
    """Prepared responses: by request id or port id (an object), or in order (a list).

    `shared_backend` tells whether the run outlives the command (so `respond` can answer it).
    """

    def __init__(self, data: Any, *, shared_backend: bool = False) -> None:
        if data is not None and not isinstance(data, (dict, list)):
            raise UsageError("--responses must be a JSON object or list")
        self.data = data
        self.shared_backend = shared_backend

    def take(self, event: WaitingForInputEvent) -> Any:
        """The prepared response to `event`, or `MISSING`."""
        if isinstance(self.data, list):
            return self.data.pop(0) if self.data else MISSING
        if isinstance(self.data, dict):
            return self.data.get(event.request_id, self.data.get(event.port_id, MISSING))
        return MISSING


async def answer(run: WorkflowRun, event: WaitingForInputEvent, answers: Answers) -> bool:
    """Send a prepared or typed response; False when there is none (or it was refused)."""
    prepared = answers.take(event)
    if prepared is not MISSING:
        try:
            await run.send_response(event, prepared)
        except InvalidResponseError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return False
        return True
    if not sys.stdin.isatty():
        message = (
            f"error: run {run.run_id!r} waits for input on port {event.port_id!r} (request "
            f"{event.request_id!r}) and stdin is not a terminal; pass --responses "
            f"'{{\"{event.port_id}\": ...}}'"
        )
        if answers.shared_backend:
            message += (
                f", or answer the waiting run with `durable-workflows respond {run.run_id} "
                f"{event.request_id} JSON -w TARGET`"
            )
        print(message, file=sys.stderr)
        return False
    response_type = run.workflow.ports[event.port_id].response_type
    prompt = f"response to {event.port_id} ({event.response_type}: {json_shape(response_type)})> "
    while True:
        try:
            text = await read_line(prompt)
        except EOFError:
            return False
        try:
            value = parse_value(text, (response_type,), "the response")
            await run.send_response(event, value)
        except (InvalidResponseError, UsageError) as exc:
            print(f"refused: {exc}", file=sys.stderr)
            continue
        return True


class EventPrinter:
    """Prints events as readable lines (or JSON lines) and keeps them for a final diagram."""

    def __init__(self, workflow: Workflow, *, json_lines: bool = False) -> None:
        self.workflow = workflow
        self.json_lines = json_lines
        self.events: list[WorkflowEvent] = []

    def show(self, event: WorkflowEvent) -> None:
        """Print one event."""
        self.events.append(event)
        if self.json_lines:
            line = json.dumps(event.to_dict(self.workflow.registry), ensure_ascii=False)
        else:
            line = f"[{event.sequence:>4}] {describe(event)}"
        print(line, flush=True)


def describe(event: WorkflowEvent) -> str:
    """A one-line, human description of an event."""
    step = f"step {event.superstep:<3} " if hasattr(event, "superstep") else ""
    if isinstance(event, WorkflowStartedEvent):
        return f"started {event.workflow_name} (run {event.run_id})"
    if isinstance(event, ExecutorInvokedEvent):
        return f"{step}> {event.executor_id}"
    if isinstance(event, ExecutorCompletedEvent):
        return f"{step}ok {event.executor_id}"
    if isinstance(event, ExecutorFailedEvent):
        return f"{step}FAILED {event.executor_id}: {event.error_type}: {event.error}"
    if isinstance(event, WaitingForInputEvent):
        return (
            f"waiting for input on {event.port_id} (request {event.request_id}, "
            f"expects {event.response_type}): {show_value(event.request)}"
        )
    if isinstance(event, ResponseReceivedEvent):
        return f"response to {event.request_id}: {show_value(event.response)}"
    if isinstance(event, WorkflowOutputEvent):
        return f"output from {event.executor_id}: {show_value(event.data)}"
    if isinstance(event, CustomEvent):
        return f"event from {event.executor_id}: {show_value(event.data)}"
    if isinstance(event, WorkflowCompletedEvent):
        return f"completed: {show_value(event.result)}"
    if isinstance(event, WorkflowFailedEvent):
        where = f" in {event.executor_id}" if event.executor_id else ""
        return f"failed{where}: {event.error_type}: {event.error}"
    return event.type


def show_value(value: Any, limit: int = 300) -> str:
    """A value as compact JSON (or its repr), cut to `limit` characters."""
    try:
        text = json.dumps(to_json(value), ensure_ascii=False)
    except Exception:  # anything a handler returned; showing it must not fail the command
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- worker, status, respond -----------------------------------------------------------------


def connection_string(args: argparse.Namespace) -> str:
    """The connection string from the arguments or the environment (a usage error if none)."""
    value: str = args.connection_string or os.environ.get(ENV_VAR, "")
    if not value.strip():
        msg = f"--connection-string is required (or set {ENV_VAR}): embedded runs live in `run`"
        raise UsageError(msg)
    return value


def open_client(args: argparse.Namespace, workflows: list[Workflow]) -> WorkflowClient:
    """A client for the connection string, with durabletask's INFO chatter turned off."""
    logger = logging.getLogger("durable_workflows.cli.durabletask")
    logger.setLevel(logging.WARNING)
    settings = with_token(parse_connection_string(connection_string(args)), args.token)
    return WorkflowClient.from_connection_string(settings, workflows, logger=logger)


def hosted_workflows(targets: list[str]) -> list[Workflow]:
    """The workflows named by worker targets: workflows, builders, lists of them, or hosts."""
    from ..hosting.host import DurableWorkflowHost

    found: dict[str, Workflow] = {}
    for target in targets:
        obj = load_target(target)
        items = obj.workflows if isinstance(obj, DurableWorkflowHost) else obj
        for item in items if isinstance(items, (list, tuple)) else [items]:
            if isinstance(item, WorkflowBuilder):
                item = item.build()
            if not isinstance(item, Workflow):
                msg = f"{target!r} holds {a_type(item)}, not a Workflow or a host"
                raise UsageError(msg)
            found[item.name] = item
    return list(found.values())


def worker_command(args: argparse.Namespace) -> int:
    """Serve the workflows from a task hub until SIGINT or SIGTERM."""
    from ..hosting.host import DurableWorkflowHost

    cs = connection_string(args)
    workflows = hosted_workflows(args.targets)
    hosts = [obj for obj in map(load_target, args.targets) if isinstance(obj, DurableWorkflowHost)]
    host = DurableWorkflowHost(
        workflows,
        connection_string=cs,
        mode="worker",
        max_concurrency=args.max_concurrency,
        token=args.token,
        previous_versions=[w for h in hosts for w in h.previous_versions],
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with host:
        names = ", ".join(w.name for w in workflows)
        print(f"worker serving {names} on {host.address}; Ctrl-C stops it", flush=True)
        stop.wait()
    print("worker stopped", flush=True)
    return 0


async def respond_command(args: argparse.Namespace) -> int:
    """Answer one pending request of a run."""
    workflow = load_workflow(args.workflow)
    client = open_client(args, [workflow])
    try:
        run = await client.get_run(args.run_id)
        pending = {r.request_id: r for r in await run.pending_requests()}
        request = pending.get(args.request_id)
        types = (workflow.ports[request.port_id].response_type,) if request else (Any,)
        value = parse_value(args.response, types, "the response")
        await run.send_response(args.request_id, value)
    finally:
        await client.close()
    print(f"answered request {args.request_id} of run {args.run_id}")
    return 0
