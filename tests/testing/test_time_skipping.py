"""Time skipping: a virtual clock for the embedded backend (docs/testing.md#time-skipping).

Port timeouts, retry backoff and timers fire when the clock is advanced past them, through
the same sidecar timer path as real time. The tests assert virtual time, never wall time.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from durable_workflows import (
    DurableWorkflowHost,
    DurableWorkflowsError,
    RequestPort,
    RetryPolicy,
    WorkflowBuilder,
    WorkflowFailedError,
    executor,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.testing import VirtualClock


def approval_flow() -> Workflow:
    @executor(id="submit")
    def submit(amount: int) -> int:
        return amount

    approve = RequestPort(
        "approve", request_type=int, response_type=bool, timeout=timedelta(hours=24)
    )

    @executor(id="book")
    def book(ok: bool) -> str:
        return "booked" if ok else "rejected"

    return WorkflowBuilder(submit, name="Approval24h").add_chain([submit, approve, book]).build()


def test_a_24_hour_port_timeout_fires_when_the_clock_passes_it() -> None:
    workflow = approval_flow()

    async def scenario() -> None:
        async with DurableWorkflowHost(workflows=[workflow], clock="virtual") as host:
            start = host.clock.time()
            run = await host.client.run(workflow, 120)
            await host.advance(timedelta(hours=23, minutes=59))
            status = await run.get_status()
            assert status.status == "RUNNING"
            assert [r.request_id for r in status.pending_requests] == ["approve:2:0"]
            await host.advance(timedelta(minutes=1))
            assert host.clock.time() - start == pytest.approx(24 * 3600)
            assert (await run.get_status()).status == "FAILED"
            with pytest.raises(WorkflowFailedError, match=r"approve:2:0.*within 1 day"):
                await run.wait_for_completion(timeout=10)

    asyncio.run(scenario())


def test_an_answer_before_the_timeout_wins() -> None:
    workflow = approval_flow()

    async def scenario() -> None:
        async with DurableWorkflowHost(workflows=[workflow], clock="virtual") as host:
            run = await host.client.run(workflow, 120)
            await host.advance(timedelta(hours=20))
            await run.send_response("approve:2:0", True)
            await host.advance(timedelta(hours=48))
            assert await run.wait_for_completion(timeout=10) == "booked"

    asyncio.run(scenario())


def test_retry_backoff_waits_for_virtual_time() -> None:
    attempts: list[int] = []

    @executor(id="flaky", retry=RetryPolicy(max_attempts=3, first_retry_interval=timedelta(minutes=10)))
    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) < 3:
            raise RuntimeError(f"attempt {len(attempts)} fails")
        return x * 10

    workflow = WorkflowBuilder(flaky, name="Backoff").build()

    async def scenario() -> None:
        async with DurableWorkflowHost(workflows=[workflow], clock="virtual") as host:
            run = await host.client.run(workflow, 4)
            await host.settle()
            assert len(attempts) == 1  # the first retry waits ten (virtual) minutes
            await host.advance(timedelta(minutes=9))
            assert len(attempts) == 1
            await host.advance(timedelta(minutes=1))
            assert len(attempts) == 2  # the second waits twenty (backoff coefficient 2)
            await host.advance(timedelta(minutes=19))
            assert len(attempts) == 2
            await host.advance(timedelta(minutes=1))
            assert await run.wait_for_completion(timeout=10) == 40
            assert len(attempts) == 3

    asyncio.run(scenario())


def test_a_shared_virtual_clock_can_be_passed_in() -> None:
    clock = VirtualClock(start=1_000_000.0)
    host = DurableWorkflowHost(workflows=[approval_flow()], clock=clock)
    assert host.clock is clock
    clock.advance(timedelta(seconds=30))
    assert clock.time() == 1_000_030.0
    with pytest.raises(DurableWorkflowsError, match="only moves forward"):
        clock.advance(timedelta(seconds=-1))


def test_virtual_time_needs_the_embedded_backend() -> None:
    with pytest.raises(DurableWorkflowsError, match="embedded backend"):
        DurableWorkflowHost(connection_string="localhost:4001", clock="virtual")
    with pytest.raises(DurableWorkflowsError, match='clock="virtual"'):
        _ = DurableWorkflowHost().clock
