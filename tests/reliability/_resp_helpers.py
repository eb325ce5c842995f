"""Shared by the response-handling reliability tests: workflows, a host, a fake seam that
delivers events while supersteps run (as durabletask does), and a foreign client.

Workflows are module-level so that worker subprocesses can import them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from durable.fake_seam import FakeSeam, FakeTask  # tests/durable (pytest puts tests/ on the path)
from durable_workflows import (
    RequestPort,
    WaitingForInputEvent,
    WorkflowBuilder,
    WorkflowClient,
    WorkflowContext,
    executor,
)
from durable_workflows.durable.orchestrator import OrchestratorDriver, start_payload
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.factories import create_client
from durable_workflows.runtime.engine import Engine

LOOP_STEPS = 30
"""Supersteps of `busy_ports`' loop: more than one generation (SUPERSTEPS_PER_GENERATION) holds."""


def busy_ports(name: str, step_seconds: float = 0.0) -> Workflow:
    """start -> fan-out [first, second]; first -> spin (loops LOOP_STEPS supersteps); second's
    answer is an output. Answer `first`, then `second` while spin loops (defect 2)."""

    @executor(id="start")
    def start(x: int) -> int:
        return x

    first = RequestPort("first", request_type=int, response_type=int)
    second = RequestPort("second", request_type=int, response_type=str)

    @executor(id="spin")
    def spin(n: int, ctx: WorkflowContext[int, str]) -> None:
        time.sleep(step_seconds)
        if n < LOOP_STEPS:
            ctx.send_message(n + 1)
        else:
            ctx.yield_output(f"looped {n}")

    return (
        WorkflowBuilder(start, name=name, max_supersteps=200)
        .add_fan_out_edge(start, [first, second])
        .add_edge(first, spin)
        .add_edge(spin, spin)
        .build()
    )


def approval(name: str) -> Workflow:
    """ask -> approve (a port answered with a bool) -> decide."""

    @executor(id="ask")
    def ask(x: int) -> int:
        return x

    port = RequestPort("approve", request_type=int, response_type=bool)

    @executor(id="decide")
    def decide(ok: bool) -> str:
        return f"approved={ok}"

    return WorkflowBuilder(ask, name=name).add_chain([ask, port, decide]).build()


def payload(workflow: Workflow, value: Any, *, stream: bool = True) -> dict[str, Any]:
    """The orchestrator input of a new run of `workflow` on `value`."""
    message = Engine(workflow).coerce_input(value)
    envelope = workflow.registry.encode(message, workflow.input_types)
    return start_payload(workflow, envelope, stream=stream)


def response_event(workflow: Workflow, value: Any, types: tuple[Any, ...], token: str = "") -> Any:
    """What `WorkflowRun.send_response` raises for `value`."""
    data: dict[str, Any] = {"response": workflow.registry.encode(value, types)}
    if token:
        data["token"] = token
    return data


class BusySeam(FakeSeam):
    """A `FakeSeam` that models durabletask's external events more closely.

    `arrivals` maps the number of activities scheduled so far (across generations) to events
    ``(name, payload)`` that arrive right after that many were scheduled: an event completes
    the oldest incomplete wait for its name, or is buffered until one is created. Continuing
    as new carries the buffer over (``save_events=True``) in `carryover`.
    """

    def __init__(
        self,
        workflow: Workflow,
        arrivals: dict[int, list[tuple[str, Any]]],
        *,
        scheduled: int = 0,
        buffered: list[tuple[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(workflow, **kwargs)
        self.arrivals = arrivals
        self.scheduled = scheduled
        self.buffered: list[tuple[str, Any]] = list(buffered or [])
        self.open_waits: list[FakeTask] = []
        self.carryover: list[tuple[str, Any]] = []

    def call_activity(self, name: str, payload: Any, retry: Any) -> FakeTask:
        task = super().call_activity(name, payload, retry)
        self.scheduled += 1
        for event in self.arrivals.pop(self.scheduled, []):
            self.arrive(*event)
        return task

    def arrive(self, name: str, data: Any) -> None:
        """An event named `name` reaches the orchestration."""
        wait = next((w for w in self.open_waits if w.name == name and not w.complete), None)
        if wait is None:
            self.buffered.append((name, data))
            return
        wait.value, wait.complete = data, True

    def wait_for_event(self, name: str) -> FakeTask:
        task = FakeTask("event", name)
        buffered = next((e for e in self.buffered if e[0] == name), None)
        if buffered is not None:
            self.buffered.remove(buffered)
            task.value, task.complete = buffered[1], True
        else:
            self.open_waits.append(task)
        self.event_waits[name] = task
        return task

    def continue_as_new(self, payload: Any) -> None:
        super().continue_as_new(payload)
        self.carryover = list(self.buffered)


def drive_generations(
    workflow: Workflow,
    start: dict[str, Any],
    arrivals: dict[int, list[tuple[str, Any]]],
    **kwargs: Any,
) -> tuple[Any, list[BusySeam]]:
    """Run generation after generation on `BusySeam`s until the run ends.

    Returns (the orchestrator's result, the seams); `AssertionError` if the run would hang.
    """
    seams: list[BusySeam] = []
    current, scheduled, buffered = start, 0, None
    for _ in range(100):
        seam = BusySeam(workflow, arrivals, scheduled=scheduled, buffered=buffered, **kwargs)
        seams.append(seam)
        result = seam.drive(OrchestratorDriver(workflow, seam, current).run())
        if not seam.continued:
            return result, seams
        current, scheduled, buffered = seam.continued[0], seam.scheduled, seam.carryover
    raise AssertionError("the run never ended")


def signalled_events(seams: list[FakeSeam]) -> list[dict[str, Any]]:
    """Every event the orchestrator published (streamed runs), in order."""
    return [e for s in seams for (_, _, _, batch) in s.signals for e in batch]


async def wait_for_requests(
    run: Any, count: int, timeout: float = 30
) -> list[WaitingForInputEvent]:
    """The run's pending requests, once there are at least `count`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending: list[WaitingForInputEvent] = await run.pending_requests()
        if len(pending) >= count:
            return pending
        await asyncio.sleep(0.02)
    raise AssertionError(f"never saw {count} pending requests")


def drive(
    address: str,
    workflows: list[Workflow],
    body: Callable[[WorkflowClient], Awaitable[Any]],
    timeout: float = 60,
) -> Any:
    """Run `body(client)` in a fresh event loop with a client of its own."""

    async def main() -> Any:
        client = WorkflowClient(create_client(address, asynchronous=True), workflows)
        try:
            return await asyncio.wait_for(body(client), timeout)
        finally:
            await client.close()

    return asyncio.run(main())
