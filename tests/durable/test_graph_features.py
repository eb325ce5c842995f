"""Issue 15's graph features end to end on the embedded backend, against the in-process runner:
timeout routes (P8, P9)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from durable_workflows import (
    DurableWorkflowHost,
    InvalidResponseError,
    RequestPort,
    RequestTimedOut,
    RequestTimedOutEvent,
    WorkflowBuilder,
    WorkflowClient,
    WorkflowCompletedEvent,
    WorkflowEvent,
    executor,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.factories import create_client
from durable_workflows.testing import NO_RESPONSE, run_in_process


def _escalation() -> Workflow:
    @executor(id="draft")
    def draft(topic: str) -> str:
        return f"draft about {topic}"

    review = RequestPort(
        "review", request_type=str, response_type=bool, timeout=timedelta(seconds=1)
    )

    @executor(id="publish")
    def publish(ok: bool) -> str:
        return f"published={ok}"

    @executor(id="escalate")
    def escalate(timed_out: RequestTimedOut[str]) -> str:
        return f"escalated {timed_out.request!r} after {timed_out.waited.total_seconds():g}s"

    return (
        WorkflowBuilder(draft, name="GFEscalation")
        .add_chain([draft, review, publish])
        .add_timeout_edge(review, escalate)
        .build()
    )


ESCALATION = _escalation()


def _late() -> Workflow:
    @executor(id="split")
    def split(x: str) -> str:
        return x

    quick = RequestPort("quick", request_type=str, response_type=str, timeout=timedelta(seconds=1))
    patient = RequestPort("patient", request_type=str, response_type=str)

    @executor(id="expired")
    def expired(t: RequestTimedOut[str]) -> str:
        return f"expired {t.request_id}"

    return (
        WorkflowBuilder(split, name="GFLate")
        .add_fan_out_edge(split, [quick, patient])
        .add_timeout_edge(quick, expired)
        .build()
    )


LATE = _late()

ALL = [ESCALATION, LATE]


@pytest.fixture(scope="module")
def host() -> Iterator[DurableWorkflowHost]:
    running = DurableWorkflowHost(workflows=ALL)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def drive(
    host: DurableWorkflowHost, body: Callable[[WorkflowClient], Awaitable[Any]], timeout: float = 60
) -> Any:
    async def main() -> Any:
        client = WorkflowClient(create_client(host.address, asynchronous=True), ALL)
        try:
            return await asyncio.wait_for(body(client), timeout)
        finally:
            await client.close()

    return asyncio.run(main())


async def collect(run: Any) -> list[WorkflowEvent]:
    return [event async for event in run.watch_stream()]


async def wait_until(predicate: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(600):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never saw {what}")


# -- timeout routes ------------------------------------------------------------------------


def test_unanswered_request_is_routed_to_the_timeout_edge(host: DurableWorkflowHost) -> None:
    """P8 durably: the request times out after the port's timeout and escalates, exactly as
    in process with nobody answering."""

    async def body(client: WorkflowClient) -> tuple[Any, list[WorkflowEvent]]:
        run = await client.stream(ESCALATION, "tides")
        events = await collect(run)
        return await run.wait_for_completion(), events

    result, events = drive(host, body)
    expected = run_in_process(ESCALATION, "tides", responses=lambda e: NO_RESPONSE)
    assert result == expected.result == "escalated 'draft about tides' after 1s"
    timed_out = [e for e in events if isinstance(e, RequestTimedOutEvent)]
    assert [(e.request_id, e.port_id, e.waited_seconds) for e in timed_out] == [
        ("review:2:0", "review", 1.0)
    ]
    assert isinstance(events[-1], WorkflowCompletedEvent)
    assert [e.type for e in events] == [e.type for e in expected.events]


def test_answer_before_the_deadline_wins(host: DurableWorkflowHost) -> None:
    """P8: a response accepted before the deadline takes the normal route."""

    async def body(client: WorkflowClient) -> Any:
        run = await client.run(ESCALATION, "waves")
        await wait_until(lambda: _has_requests(run), "the review request")
        await run.send_response("review:2:0", True)
        return await run.wait_for_completion()

    assert drive(host, body) == "published=True"


def test_late_response_is_refused_clearly(host: DurableWorkflowHost) -> None:
    """P9 durably: after the timeout, send_response says the request timed out; the run goes
    on with its other request."""

    async def body(client: WorkflowClient) -> tuple[str, Any, list[Any]]:
        run = await client.run(LATE, "x")

        async def quick_gone() -> bool:
            ids = [r.request_id for r in await run.pending_requests()]
            return ids == ["patient:2:0"]

        await wait_until(quick_gone, "the quick request time out")
        with pytest.raises(InvalidResponseError) as info:
            await run.send_response("quick:2:0", "too late")
        await run.send_response("patient:2:0", "fine")
        return str(info.value), await run.wait_for_completion(), run.outputs

    error, result, outputs = drive(host, body)
    assert "'quick:2:0'" in error
    assert "timed out after 0:00:01" in error
    assert result == "fine"
    assert outputs == ["expired quick:2:0", "fine"]


async def _has_requests(run: Any) -> bool:
    return bool(await run.pending_requests())
