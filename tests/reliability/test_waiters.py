"""Issue 10, defect 3: waiting for runs cannot starve the embedded backend, at any concurrency.

On the old main each `wait_for_completion()` held one of the sidecar's 128 gRPC threads in a
blocking ``WaitForInstanceCompletion``; with more waiters than threads the worker's own calls
queued behind them and nothing finished (300 gathered waiters: 0 done after 90 s). Waiters
now poll the status with backoff and hold no server thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from durable_workflows import DurableWorkflowHost, WorkflowBuilder, WorkflowClient, executor
from durable_workflows.graph.workflow import Workflow

from ._size_helpers import drive

pytestmark = pytest.mark.e2e


def _two_steps() -> Workflow:
    @executor(id="double")
    def double(x: int) -> int:
        return 2 * x

    @executor(id="inc")
    def inc(x: int) -> int:
        return x + 1

    return WorkflowBuilder(double, name="WaitersTwoSteps").add_chain([double, inc]).build()


TWO_STEPS = _two_steps()


@pytest.fixture(scope="module")
def host() -> Iterator[DurableWorkflowHost]:
    with DurableWorkflowHost(workflows=[TWO_STEPS]) as running:
        yield running


async def _start_and_await(client: WorkflowClient, count: int) -> list[int]:
    runs = await asyncio.gather(*(client.run(TWO_STEPS, i) for i in range(count)))
    return list(await asyncio.gather(*(run.wait_for_completion() for run in runs)))


def test_300_gathered_waiters_all_complete(host: DurableWorkflowHost) -> None:
    results = drive(host, lambda client: _start_and_await(client, 300), timeout=90)
    assert results == [2 * i + 1 for i in range(300)]


@pytest.mark.slow
def test_1000_concurrent_runs_started_and_awaited_all_complete(host: DurableWorkflowHost) -> None:
    started = time.monotonic()
    results = drive(host, lambda client: _start_and_await(client, 1000), timeout=300)
    assert results == [2 * i + 1 for i in range(1000)]
    print(f"1,000 concurrent runs: {time.monotonic() - started:.1f} s")


def test_300_gathered_agent_turns_all_complete() -> None:
    """Agent turns wait the same way (they once held a blocking wait each, as runs did)."""
    from durable_workflows.agents import Agent, DeterministicChatClient

    echo = Agent("WaitersEcho", "Echo.", DeterministicChatClient())

    async def main() -> list[str]:
        async with DurableWorkflowHost(agents=[echo]) as running:
            agent = running.agents.get("WaitersEcho")
            replies = await asyncio.wait_for(
                asyncio.gather(*(agent.run(f"hello {i}") for i in range(300))), 120
            )
            return [r.text for r in replies]

    texts = asyncio.run(main())
    assert len(texts) == 300 and all(f"hello {i}" in t for i, t in enumerate(texts))
