"""Bad events never kill a run, and a run's status tells the truth (issue 10, defect 8 and
smaller items: ended runs list no requests, a changed graph, failure supersteps, halts, the
reserved `agent_turn` name, fan-in activation order)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from durabletask.client import AsyncTaskHubGrpcClient
from durabletask.serialization import JsonDataConverter

from durable_workflows import (
    DurableWorkflowHost,
    ExecutorFailedEvent,
    RequestPort,
    ResponseRefusedEvent,
    WorkflowBuilder,
    WorkflowClient,
    WorkflowContext,
    WorkflowEvent,
    WorkflowValidationError,
    executor,
)
from durable_workflows.agents import Agent, DeterministicChatClient
from durable_workflows.durable.orchestrator import OrchestratorDriver
from durable_workflows.graph.workflow import Workflow
from durable_workflows.runtime.engine import Engine
from durable_workflows.testing import InProcessRunner, run_in_process

from ._resp_helpers import (
    FakeSeam,
    approval,
    drive,
    payload,
    response_event,
    wait_for_requests,
)

APPROVAL = approval("RelEventsApproval")


def _failing() -> Workflow:
    @executor(id="fine")
    def fine(x: int) -> int:
        return x

    @executor(id="boom")
    def boom(x: int) -> int:
        raise ValueError(f"kaput {x}")

    return WorkflowBuilder(fine, name="RelFailing").add_edge(fine, boom).build()


FAILING = _failing()
ALL = [APPROVAL, FAILING]


@pytest.fixture(scope="module")
def host() -> Iterator[DurableWorkflowHost]:
    running = DurableWorkflowHost(workflows=ALL)
    running.start()
    try:
        yield running
    finally:
        running.stop()


class _VerbatimConverter(JsonDataConverter):
    """A foreign client's converter: sends a str payload as is (not JSON-encoded)."""

    def serialize(self, value: Any) -> str | None:
        return value if isinstance(value, str) else super().serialize(value)


async def _raise_foreign(address: str, run_id: str, name: str, raw: str) -> None:
    client = AsyncTaskHubGrpcClient(host_address=address, data_converter=_VerbatimConverter())
    try:
        await client.raise_orchestration_event(run_id, name, data=raw)
    finally:
        await client.close()


async def _events_until(run: Any, predicate: Any) -> list[WorkflowEvent]:
    seen: list[WorkflowEvent] = []
    async for event in run.watch_stream():
        seen.append(event)
        if predicate(event):
            break
    return seen


# -- defect 8: malformed and foreign events are refused, the run keeps waiting ---------------


@pytest.mark.parametrize(
    "raw",
    ["{not json", json.dumps({"foo": 1}), json.dumps({"response": {"type": "Nope", "data": 1}})],
    ids=["malformed", "foreign", "undeclared-type"],
)
def test_bad_event_is_refused_recorded_and_the_run_keeps_waiting(
    host: DurableWorkflowHost, raw: str
) -> None:
    """P3: a malformed (not JSON) or foreign event for a request is refused; a
    `ResponseRefusedEvent` names the request and the reason; the run still waits and a good
    response completes it. On main the malformed one failed the run, naming nothing."""

    async def body(client: WorkflowClient) -> tuple[list[WorkflowEvent], Any, str]:
        run = await client.stream(APPROVAL, 1)
        [request] = await wait_for_requests(run, 1)
        await _raise_foreign(host.address, run.run_id, request.request_id, raw)
        events = await _events_until(run, lambda e: isinstance(e, ResponseRefusedEvent))
        status = await run.get_status()
        await run.send_response(request, True)
        return events, status, await run.wait_for_completion(timeout=30)

    events, status, result = drive(host.address, ALL, body)
    refused = events[-1]
    assert isinstance(refused, ResponseRefusedEvent)
    assert refused.request_id == "approve:2:0"
    assert refused.port_id == "approve"
    assert refused.error
    assert status.status == "RUNNING"
    assert [r.request_id for r in status.pending_requests] == ["approve:2:0"]
    assert result == "approved=True"


def test_malformed_event_reason_names_the_problem_fake() -> None:
    """P3 through the fake seam: each refusal is an event naming the request and why."""
    wf = approval("RelFakeRefusals")
    good = response_event(wf, True, (bool,))
    answers = iter(["{not json", {"foo": 1}, {"response": {"type": "Nope", "data": 1}}, good])

    def responder(status: dict[str, Any]) -> dict[str, Any]:
        return {r["request_id"]: next(answers) for r in status["requests"]}

    seam = FakeSeam(wf, responder=responder, fire_timers=False)
    result = seam.drive(OrchestratorDriver(wf, seam, payload(wf, 1)).run())
    assert wf.registry.decode(result["result"]) == "approved=True"
    events = [e for (_, _, _, batch) in seam.signals for e in batch]
    refusals = [e for e in events if e["type"] == "response_refused"]
    assert [e["request_id"] for e in refusals] == ["approve:2:0"] * 3
    reasons = [e["error"] for e in refusals]
    assert "not JSON" in reasons[0]
    assert "WorkflowRun.send_response" in reasons[1]
    assert "'Nope'" in reasons[2]


# -- ended runs list no pending requests -----------------------------------------------------


def test_ended_run_lists_no_pending_requests(host: DurableWorkflowHost) -> None:
    """P2: only an active run has pending requests (a terminated run listed them on main)."""

    async def body(client: WorkflowClient) -> Any:
        run = await client.run(APPROVAL, 1)
        await wait_for_requests(run, 1)
        await run.cancel()
        status = await run.get_status()
        while status.is_active:
            status = await run.get_status()
        return status

    status = drive(host.address, ALL, body)
    assert status.status == "TERMINATED"
    assert status.pending_requests == []


def test_status_of_a_run_whose_port_the_graph_lacks(host: DurableWorkflowHost) -> None:
    """A client whose workflow no longer has the run's port still reads the status (KeyError
    on main) and refuses an answer to that port with a message naming it."""
    changed = _renamed_port(APPROVAL.name)

    async def body(client: WorkflowClient) -> tuple[Any, str]:
        run = await client.run(APPROVAL, 1)
        await wait_for_requests(run, 1)
        other = WorkflowClient(client.durable_client, [changed])
        stale = await other.get_run(run.run_id)
        status = await stale.get_status()
        with pytest.raises(Exception) as info:
            await stale.send_response("approve:2:0", True)
        await run.cancel()
        return status, f"{type(info.value).__name__}: {info.value}"

    status, error = drive(host.address, ALL, body)
    [request] = status.pending_requests
    assert request.request_id == "approve:2:0"
    assert request.port_id == "approve"
    assert "not in" in request.response_type
    assert error.startswith("InvalidResponseError")
    assert "'approve'" in error and "graph" in error


def _renamed_port(name: str) -> Workflow:
    @executor(id="ask")
    def ask(x: int) -> int:
        return x

    port = RequestPort("approve_v2", request_type=int, response_type=bool)

    @executor(id="decide")
    def decide(ok: bool) -> str:
        return f"approved={ok}"

    return WorkflowBuilder(ask, name=name).add_chain([ask, port, decide]).build()


# -- failures carry their superstep ---------------------------------------------------------


def test_executor_failed_event_carries_its_superstep(host: DurableWorkflowHost) -> None:
    """E1, V1: `boom` fails in superstep 2; the event says 2 (0 on main), in-process and
    durably."""
    [in_process] = [
        e for e in run_in_process(FAILING, 1).events if isinstance(e, ExecutorFailedEvent)
    ]

    async def body(client: WorkflowClient) -> list[WorkflowEvent]:
        run = await client.stream(FAILING, 1)
        return [e async for e in run.watch_stream()]

    [durable] = [e for e in drive(host.address, ALL, body) if isinstance(e, ExecutorFailedEvent)]
    assert in_process.superstep == durable.superstep == 2
    assert durable.executor_id == "boom"


# -- a halted run has no pending requests ----------------------------------------------------


def test_halted_in_process_run_lists_no_pending_requests() -> None:
    """H1, P5: halting drops open requests; the result must not list them (it did on main)."""

    @executor
    def start(n: int) -> int:
        return n

    @executor
    def stopper(n: int, ctx: WorkflowContext) -> None:
        ctx.request_halt()

    port = RequestPort("Ask", request_type=int, response_type=int)
    wf = WorkflowBuilder(start, name="RelHalt").add_fan_out_edge(start, [port, stopper]).build()
    result = run_in_process(wf, 1)
    assert result.status == "completed"
    assert result.pending_requests == []


def test_failed_in_process_run_lists_no_pending_requests() -> None:
    """P2: a failed run has nothing pending, even when it failed with a request open."""

    @executor
    def start(n: int) -> int:
        return n

    @executor
    def boom(n: int) -> None:
        raise ValueError("kaput")

    port = RequestPort("Ask", request_type=int, response_type=int)
    wf = WorkflowBuilder(start, name="RelFailOpen").add_fan_out_edge(start, [port, boom]).build()
    result = run_in_process(wf, 1)
    assert result.status == "failed"
    assert result.pending_requests == []


# -- reserved names ---------------------------------------------------------------------------


def test_workflow_named_agent_turn_runs_next_to_agents() -> None:
    """A workflow named `agent_turn` and a hosted agent coexist (their orchestrators had the
    same name on main, so the host did not start)."""

    @executor(id="echo")
    def echo(x: str) -> str:
        return x.upper()

    wf = WorkflowBuilder(echo, name="agent_turn").build()
    agent = Agent("Helper", "Be brief.", DeterministicChatClient(default="hello"))

    async def main() -> tuple[Any, str]:
        async with DurableWorkflowHost(workflows=[wf], agents=[agent]) as host:
            run = await host.client.run(wf, "hi")
            result = await run.wait_for_completion(timeout=30)
            response = await host.agents.get("Helper").run("hi", timeout=30)
            return result, response.text

    assert asyncio.run(main()) == ("HI", "hello")


def test_workflow_names_starting_with_underscore_are_reserved() -> None:
    """B8: '_' starts the library's internal names; the validation error says so."""

    @executor(id="echo")
    def echo(x: str) -> str:
        return x

    with pytest.raises(WorkflowValidationError, match="reserved") as info:
        WorkflowBuilder(echo, name="_agent_turn").build()
    assert "'_agent_turn'" in str(info.value)


# -- S4: fan-in activations come after all direct deliveries ----------------------------------


def _order_workflow() -> tuple[Workflow, list[tuple[str, Any]]]:
    """Two ports answered in one wait: `p1`'s answer completes the barrier [p1, seed] -> t,
    `p2`'s answer goes to t directly. t records what it gets, in invocation order."""
    seen: list[tuple[str, Any]] = []

    @executor(id="start")
    def start(x: int) -> int:
        return x

    @executor(id="seed")
    def seed(x: int) -> str:
        return "seed"

    p1 = RequestPort("p1", request_type=int, response_type=str)
    p2 = RequestPort("p2", request_type=int, response_type=str)

    @executor(id="t")
    def t(x: str | list[str], ctx: WorkflowContext) -> None:
        seen.append((ctx.superstep, x))

    wf = (
        WorkflowBuilder(start, name="RelOrder")
        .add_fan_out_edge(start, [p1, p2, seed])
        .add_fan_in_barrier_edge([p1, seed], t)
        .add_edge(p2, t)
        .build()
    )
    return wf, seen


def test_fan_in_activations_follow_direct_deliveries_of_responses() -> None:
    """S4, F2: responses accepted together are routed in acceptance order, and the fan-in
    activations they complete come after all of them (on main, p1's activation came first)."""
    wf, seen = _order_workflow()
    answers = {"p1": "one", "p2": "two"}
    result = run_in_process(wf, 1, responses=lambda e: answers[e.port_id])
    assert result.status == "completed", result.error
    assert seen == [(3, "two"), (3, ["one", "seed"])]
    engine = Engine(wf)
    runner = InProcessRunner(wf)
    state = engine.start(1)
    while (step := engine.begin_superstep(state)) is not None:
        engine.finish_superstep(state, step, runner.execute(state, step))
    for request_id in list(state.requests):  # p1's request first (creation order)
        port = state.requests[request_id].port_id
        engine.submit_response(state, request_id, answers[port])
    step = engine.begin_superstep(state)
    assert step is not None
    assert [(i.node_id, i.message, i.branch) for i in step.invocations] == [
        ("t", "two", 0),
        ("t", ["one", "seed"], 1),
    ]


def test_waiting_for_input_events_are_unchanged_by_refusals() -> None:
    """V1: a refusal adds one event; the request stays announced once."""
    wf = approval("RelFakeOnce")
    answers = iter(["{bad", response_event(wf, False, (bool,))])

    def responder(status: dict[str, Any]) -> dict[str, Any]:
        return {r["request_id"]: next(answers) for r in status["requests"]}

    seam = FakeSeam(wf, responder=responder, fire_timers=False)
    seam.drive(OrchestratorDriver(wf, seam, payload(wf, 1)).run())
    events = [e for (_, _, _, batch) in seam.signals for e in batch]
    types = [e["type"] for e in events]
    assert types.count("waiting_for_input") == 1
    assert types.count("response_refused") == 1
    assert types.count("response_received") == 1
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
