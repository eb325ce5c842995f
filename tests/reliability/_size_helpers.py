"""Helpers shared by the size, waiter, stale-timer and client-error reliability tests."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from durable_workflows import DurableWorkflowHost, WorkflowBuilder, WorkflowClient, executor
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.factories import create_client

T = TypeVar("T")

QUIET = logging.getLogger("tests.reliability.quiet")
QUIET.setLevel(logging.CRITICAL)

MB = 1_000_000


def wait_until(
    predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05
) -> None:
    """Poll `predicate` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


async def history_payload_bytes(durable_client: Any, run_id: str) -> int:
    """Bytes of every input and result in the run's current execution history."""
    events = await durable_client.get_orchestration_history(run_id)
    total = 0
    for event in events:
        for name in ("input", "result"):
            value = getattr(event, name, None)
            if isinstance(value, str):
                total += len(value)
    return total


def tiny_workflow(name: str) -> Workflow:
    """One executor adding one: the run started after a big one, to show the host still works."""

    @executor(id="inc")
    def inc(x: int) -> int:
        return x + 1

    return WorkflowBuilder(inc, name=name).build()


async def assert_host_still_works(client: WorkflowClient, tiny: Workflow) -> None:
    """A tiny run started now completes promptly."""
    run = await client.run(tiny, 41)
    assert await run.wait_for_completion(timeout=30) == 42


def drive(
    host: DurableWorkflowHost, body: Callable[[WorkflowClient], Awaitable[T]], timeout: float = 120
) -> T:
    """Run `body(client)` in a fresh event loop with a client of the running `host`."""

    async def main() -> T:
        client = WorkflowClient(
            create_client(host.address, asynchronous=True),
            host.workflows,
            max_payload_bytes=host.max_payload_bytes,
            address=host.address,
        )
        try:
            return await asyncio.wait_for(body(client), timeout)
        finally:
            await client.close()

    return asyncio.run(main())
