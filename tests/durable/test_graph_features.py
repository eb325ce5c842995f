"""Issue 15's graph features end to end on the embedded backend, against the in-process runner:
timeout routes (P8, P9), named events (P10), request_info (P11), delays (C2), sub-workflows
(W1-W5)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from durable_workflows import (
    Delay,
    DurableWorkflowHost,
    InvalidResponseError,
    RequestPort,
    RequestTimedOut,
    RequestTimedOutEvent,
    ResponseRefusedEvent,
    SubWorkflow,
    WorkflowBuilder,
    WorkflowClient,
    WorkflowCompletedEvent,
    WorkflowContext,
    WorkflowEvent,
    WorkflowFailedError,
    executor,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.factories import create_client
from durable_workflows.testing import (
    NO_RESPONSE,
    InProcessRunner,
    assert_durable_matches_in_process,
    run_in_process,
)

from .workflows import (
    Approval,
    approval_flow,
    asking_flow,
    delayed,
    sub_child_asking,
    sub_child_failing,
    sub_parent,
    three_deep,
    two_open,
)


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

NAMED = approval_flow()
TWO_OPEN = two_open()

ASKING = asking_flow("GFAsking")
SUB_ASKING = sub_parent(sub_child_asking("GFChild"), "GFSubAsking")
SUB_FAILING = sub_parent(SubWorkflow(sub_child_failing("GFFailingChild"), id="f"), "GFSubFailing")
DEEP = three_deep("GFDeep")

ALL = [ESCALATION, LATE, NAMED, TWO_OPEN, ASKING, SUB_ASKING, SUB_FAILING, DEEP]


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


# -- named events ----------------------------------------------------------------------------


async def _pending_ports(run: Any) -> list[str]:
    return [r.port_id for r in await run.pending_requests()]


def test_raise_event_answers_like_the_in_process_run(host: DurableWorkflowHost) -> None:
    """P10 durably: `run.raise_event(port, plain JSON)` answers the open request; the run ends
    with the same events and outputs as in process."""

    async def body(client: WorkflowClient) -> tuple[Any, list[WorkflowEvent]]:
        run = await client.stream(NAMED, "hi")
        await wait_until(lambda: _is(run, ["Approval"]), "the approval request")
        await run.raise_event("Approval", {"approved": False, "feedback": "shorter"})
        await wait_until(lambda: _is(run, ["Second"]), "the second request")
        await run.raise_event("Second", "ok")
        return await run.wait_for_completion(), await collect(run)

    result, events = drive(host, body)
    runner = InProcessRunner(NAMED)
    runner.run("hi")
    runner.raise_event("Approval", {"approved": False, "feedback": "shorter"})
    expected = runner.raise_event("Second", "ok")
    assert result == expected.result == "ok"
    assert [e.type for e in events] == [e.type for e in expected.events]
    received = [e for e in events if e.type == "response_received"]
    assert received[0].response == Approval(approved=False, feedback="shorter")


def test_raw_named_event_without_an_open_request_is_refused_not_kept(
    host: DurableWorkflowHost,
) -> None:
    """P10: an event named after a port with no open request is refused when it arrives (a
    ResponseRefusedEvent names it) and is not kept for the port's next request."""

    async def body(client: WorkflowClient) -> tuple[list[str], list[WorkflowEvent]]:
        run = await client.stream(NAMED, "hi")
        await wait_until(lambda: _is(run, ["Approval"]), "the approval request")
        raw = client.durable_client
        await raw.raise_orchestration_event(run.run_id, "Second", data="too early")
        await wait_until(lambda: _refusals(run, 1), "the refusal")
        await raw.raise_orchestration_event(run.run_id, "Approval", data={"approved": True})
        await wait_until(lambda: _is(run, ["Second"]), "the second request")
        await asyncio.sleep(0.3)
        still = await _pending_ports(run)  # the early event did not answer it
        await run.raise_event("Second", "now")
        await run.wait_for_completion()
        return still, await collect(run)

    still, events = drive(host, body)
    assert still == ["Second"]
    [refused] = [e for e in events if isinstance(e, ResponseRefusedEvent)]
    assert (refused.event_name, refused.port_id, refused.request_id) == ("Second", "Second", "")
    assert "no request is open at port 'Second'" in refused.error
    assert events[-1].type == "workflow_completed"


def test_raw_named_event_with_two_open_requests_or_a_bad_payload_is_refused(
    host: DurableWorkflowHost,
) -> None:
    """P10: several open requests at the port, or a payload that does not fit: refused and
    recorded; the requests stay open. The client refuses the same before sending."""

    async def body(
        client: WorkflowClient,
    ) -> tuple[list[str], list[str], list[ResponseRefusedEvent]]:
        run = await client.stream(TWO_OPEN, "x")
        await wait_until(lambda: _is(run, ["ask", "ask"]), "two requests")
        raw = client.durable_client
        await raw.raise_orchestration_event(run.run_id, "ask", data=1)
        await wait_until(lambda: _refusals(run, 1), "the first refusal")
        errors = []
        for name, payload in (("ask", 1), ("nope", 1)):
            with pytest.raises(InvalidResponseError) as info:
                await run.raise_event(name, payload)
            errors.append(str(info.value))
        await run.send_response("ask:3:0", 5)
        await wait_until(lambda: _is(run, ["ask"]), "one request left")
        await raw.raise_orchestration_event(run.run_id, "ask", data="not an int")
        await wait_until(lambda: _refusals(run, 2), "the second refusal")
        with pytest.raises(InvalidResponseError):
            await run.raise_event("ask", "not an int")
        await run.raise_event("ask", 6)
        await run.wait_for_completion()
        refused = [e for e in await collect(run) if isinstance(e, ResponseRefusedEvent)]
        return errors, run.outputs, refused

    errors, outputs, refused = drive(host, body)
    assert "2 requests are open at port 'ask' (ask:3:0, ask:3:1)" in errors[0]
    assert "names no port" in errors[1]
    assert outputs == [5, 6]
    assert [(r.event_name, r.request_id) for r in refused] == [("ask", ""), ("ask", "ask:3:1")]
    assert "2 requests are open" in refused[0].error
    assert "'ask' refused" in refused[1].error


async def _is(run: Any, ports: list[str]) -> bool:
    return await _pending_ports(run) == ports


async def _refusals(run: Any, count: int) -> bool:
    events = await run.recorded_events()
    return len([e for e in events if isinstance(e, ResponseRefusedEvent)]) >= count


# -- request_info ----------------------------------------------------------------------------


def test_request_info_durably_like_in_process(host: DurableWorkflowHost) -> None:
    """P11 durably: an executor's requests wait in the run's status with their asked types,
    are answered by id and by a named event after the executor, and reach its response
    handlers; events and outputs equal the in-process run answered the same way."""

    async def body(client: WorkflowClient) -> tuple[list[tuple[str, str]], Any, list[Any]]:
        run = await client.stream(ASKING, "longer")
        await wait_until(lambda: _is(run, ["reviewer", "reviewer"]), "two asked requests")
        pending = [(r.request_id, r.response_type) for r in await run.pending_requests()]
        with pytest.raises(InvalidResponseError, match="2 requests are open"):
            await run.raise_event("reviewer", 7)
        with pytest.raises(InvalidResponseError, match="'reviewer' refused"):
            await run.send_response("reviewer:2:0", "yes")
        await run.send_response("reviewer:2:0", True)
        await host.settle()
        await run.raise_event("reviewer", 7)
        result = await run.wait_for_completion()
        return pending, result, await collect(run)

    pending, result, events = drive(host, body)
    assert pending == [("reviewer:2:0", "bool"), ("reviewer:2:1", "int")]
    runner = InProcessRunner(ASKING)
    runner.run("longer")
    runner.submit_response("reviewer:2:0", True)
    expected = runner.raise_event("reviewer", 7)
    assert result == expected.result == "published budget 7/6"
    registry = ASKING.registry
    mine = [{**e.to_dict(registry), "run_id": ""} for e in expected.events]
    theirs = [{**e.to_dict(registry), "run_id": ""} for e in events]
    assert theirs == mine


# -- delays ----------------------------------------------------------------------------------


def test_a_delay_waits_on_a_durable_timer() -> None:
    """C2 durably, on a virtual clock: the run sleeps until the delay's time comes, then goes
    on; its events equal the in-process run's."""
    workflow = delayed("GFDelay", timedelta(days=2))

    async def body() -> tuple[list[str], Any]:
        async with DurableWorkflowHost(workflows=[workflow], clock="virtual") as host:
            run = await host.client.stream(workflow, 1)
            await host.advance(timedelta(days=1, hours=23))
            before = [e.type for e in await run.recorded_events()]
            await host.advance(timedelta(hours=1))
            return before, await run.wait_for_completion(10)

    before, result = asyncio.run(body())
    assert before[-1] == "delay_started"
    assert result == "done 2"
    asyncio.run(assert_durable_matches_in_process(workflow, 1))


def test_a_long_delay_loop_across_continue_as_new() -> None:
    """C2 + continue-as-new: timers live in the run state, so a loop of delays longer than a
    generation ends like in process."""

    @executor(id="tick")
    def tick(n: int, ctx: WorkflowContext[int, int]) -> None:
        ctx.yield_output(n)
        if n < 30:
            ctx.send_message(n + 1)

    wait = Delay("wait", timedelta(minutes=5), message_type=int)
    workflow = (
        WorkflowBuilder(tick, name="GFDelayLoop").add_edge(tick, wait).add_edge(wait, tick).build()
    )
    expected = asyncio.run(assert_durable_matches_in_process(workflow, 0, timeout=120))
    assert expected.outputs == list(range(31))


# -- sub-workflows ---------------------------------------------------------------------------


def test_a_sub_workflow_runs_as_a_child_orchestration_like_in_process() -> None:
    """W1-W4 durably, against the in-process run: the child's events in the parent's stream
    with path-qualified ids, its request answered through the parent."""
    expected = asyncio.run(
        assert_durable_matches_in_process(SUB_ASKING, 3, responses=lambda e: "hello")
    )
    assert expected.outputs == ["got prep 3", "got said hello"]
    waiting = [e for e in expected.events if e.type == "waiting_for_input"]
    assert [(e.request_id, e.port_id) for e in waiting] == [("GFChild:2:0/ask:2:0", "GFChild/ask")]


def test_child_requests_are_listed_and_answered_through_the_parent(
    host: DurableWorkflowHost,
) -> None:
    """W2, W4: the child is a sub-orchestration with a deterministic id; its request is the
    parent's (status, pending_requests) and is answered through the parent, by id and by a
    named event after the prefixed port."""

    async def body(client: WorkflowClient) -> tuple[Any, Any, str, Any]:
        run = await client.run(SUB_ASKING, 3)
        await wait_until(lambda: _is(run, ["GFChild/ask"]), "the child's request")
        [request] = await run.pending_requests()
        child = await client.durable_client.get_orchestration_state(f"{run.run_id}~GFChild:2:0")
        with pytest.raises(InvalidResponseError, match="refused"):
            await run.send_response(request, 42)
        await run.send_response(request, "by id")
        first = await run.wait_for_completion()
        again = await client.run(SUB_ASKING, 4)
        await wait_until(lambda: _is(again, ["GFChild/ask"]), "the second child's request")
        await again.raise_event("GFChild/ask", "by name")
        return request, first, child.name, await again.wait_for_completion()

    request, first, child_name, second = drive(host, body)
    assert (request.request_id, request.port_id, request.request) == (
        "GFChild:2:0/ask:2:0",
        "GFChild/ask",
        3,
    )
    assert request.response_type == "str"
    assert child_name == "dw.GFChild"
    assert first == "got said by id"
    assert second == "got said by name"


def test_a_failing_child_fails_the_parent_naming_the_path(host: DurableWorkflowHost) -> None:
    """W5: the parent fails, naming the path of the node that failed, with its error."""

    async def body(client: WorkflowClient) -> tuple[WorkflowFailedError, list[WorkflowEvent]]:
        run = await client.stream(SUB_FAILING, 5)
        events = await collect(run)
        with pytest.raises(WorkflowFailedError) as info:
            await run.wait_for_completion()
        return info.value, events

    error, events = drive(host, body)
    assert error.executor_id == "f/boom"
    assert "kaput 5" in str(error)
    failed = [e for e in events if e.type in ("executor_failed", "workflow_failed")]
    assert [(e.type, e.executor_id, e.error_type) for e in failed] == [
        ("executor_failed", "f/boom", "ValueError"),
        ("workflow_failed", "f/boom", "ValueError"),
    ]
    expected = run_in_process(SUB_FAILING, 5)
    assert [e.type for e in events] == [e.type for e in expected.events]


def test_three_levels_deep_answered_at_the_top(host: DurableWorkflowHost) -> None:
    """W2, W4 nested three deep: the request of the innermost run is listed by the top run
    with the whole path and answered through it."""

    async def body(client: WorkflowClient) -> tuple[Any, Any]:
        run = await client.run(DEEP, 1)
        await wait_until(lambda: _has_requests(run), "the innermost request")
        [request] = await run.pending_requests()
        await run.send_response(request.request_id, "deep")
        return request, await run.wait_for_completion()

    request, result = drive(host, body)
    assert request.request_id == "GFDeepOuter:2:0/GFDeepMid:2:0/GFDeepInner:2:0/ask:2:0"
    assert request.port_id == "GFDeepOuter/GFDeepMid/GFDeepInner/ask"
    assert request.request == 2
    assert result == "got got said deep"


def test_cancelling_the_parent_cancels_its_children(host: DurableWorkflowHost) -> None:
    """W5: cancel terminates the child runs too."""

    async def body(client: WorkflowClient) -> tuple[str, str]:
        run = await client.run(DEEP, 1)
        await wait_until(lambda: _has_requests(run), "the innermost request")
        await run.cancel()
        inner_id = f"{run.run_id}~GFDeepOuter:2:0~GFDeepMid:2:0~GFDeepInner:2:0"
        durable = client.durable_client
        for _ in range(500):  # termination is asynchronous
            top = await durable.get_orchestration_state(run.run_id)
            inner = await durable.get_orchestration_state(inner_id)
            names = top.runtime_status.name, inner.runtime_status.name
            if names == ("TERMINATED", "TERMINATED"):
                break
            await asyncio.sleep(0.02)
        return names

    assert drive(host, body) == ("TERMINATED", "TERMINATED")


def test_child_runs_are_not_listed_as_runs(host: DurableWorkflowHost) -> None:
    """W2: list_runs lists the parent run, not its sub-workflows' child runs."""

    async def body(client: WorkflowClient) -> tuple[str, list[str]]:
        run = await client.run(SUB_ASKING, 9)
        await wait_until(lambda: _is(run, ["GFChild/ask"]), "the child's request")
        runs = await client.list_runs(limit=1000)
        await run.cancel()
        return run.run_id, [r.run_id for r in runs]

    run_id, listed = drive(host, body)
    assert run_id in listed
    assert not [r for r in listed if r.startswith(run_id + "~")]
