"""The host's transport on the embedded backend: in-process by default, gRPC on request.

The same runs give the same results, outputs, events, errors and refusals on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from durable_workflows import (
    DurableWorkflowHost,
    DurableWorkflowsError,
    InvalidResponseError,
    RequestAlreadyAnsweredError,
    RequestPort,
    WaitingForInputEvent,
    WorkflowBuilder,
    WorkflowClient,
    WorkflowFailedError,
    executor,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.factories import create_client
from durable_workflows.hosting.inprocess import TRANSPORT_ENV_VAR, resolve_transport
from durable_workflows.sidecar import SqliteSidecar


def _chain() -> Workflow:
    @executor(id="double")
    def double(x: int) -> int:
        return 2 * x

    @executor(id="label")
    def label(x: int) -> str:
        return f"v={x}"

    return WorkflowBuilder(double, name="TransportChain").add_chain([double, label]).build()


def _fan() -> Workflow:
    @executor(id="src")
    def src(x: int) -> int:
        return x

    def _branch(i: int) -> Any:
        @executor(id=f"b{i}")
        def branch(x: int) -> int:
            return x + i

        return branch

    branches = [_branch(i) for i in range(5)]

    @executor(id="total")
    def total(xs: list[int]) -> int:
        return sum(xs)

    return (
        WorkflowBuilder(src, name="TransportFan")
        .add_fan_out_edge(src, branches)
        .add_fan_in_barrier_edge(branches, total)
        .build()
    )


def _approval() -> Workflow:
    port = RequestPort("approve", request_type=int, response_type=bool)

    @executor(id="decide")
    def decide(ok: bool) -> str:
        return f"approved={ok}"

    return WorkflowBuilder(port, name="TransportApproval").add_edge(port, decide).build()


def _failing() -> Workflow:
    @executor(id="boom")
    def boom(x: int) -> int:
        raise ValueError(f"kaput {x}")

    return WorkflowBuilder(boom, name="TransportFailing").build()


CHAIN, FAN, APPROVAL, FAILING = _chain(), _fan(), _approval(), _failing()
ALL = [CHAIN, FAN, APPROVAL, FAILING]


@pytest.fixture(scope="module", params=["inprocess", "grpc"])
def host(request: pytest.FixtureRequest) -> Iterator[DurableWorkflowHost]:
    with DurableWorkflowHost(workflows=ALL, transport=request.param) as running:
        yield running


def drive(host: DurableWorkflowHost, body: Callable[[WorkflowClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        return await asyncio.wait_for(body(host.client), 60)

    return asyncio.run(main())


async def _requests(run: Any) -> list[Any]:
    for _ in range(500):
        if pending := await run.pending_requests():
            return pending
        await asyncio.sleep(0.01)
    raise AssertionError("the run never asked")


def test_the_host_reports_its_transport(host: DurableWorkflowHost) -> None:
    assert host.transport in ("inprocess", "grpc")


def test_chain_and_fan_in_give_the_same_results(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> tuple[Any, list[Any], Any]:
        run = await client.run(CHAIN, 4)
        result = await run.wait_for_completion()
        fan = await (await client.run(FAN, 1)).wait_for_completion()
        return result, run.outputs, fan

    assert drive(host, body) == ("v=8", ["v=8"], 5 * 1 + sum(range(5)))


def test_a_response_round_trip_and_a_refusal(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> tuple[str, str]:
        run = await client.run(APPROVAL, 7)
        pending = await _requests(run)
        with pytest.raises(InvalidResponseError) as refused:
            await run.send_response(pending[0], "not a bool")
        await run.send_response(pending[0], True)
        return await run.wait_for_completion(), str(refused.value)

    result, refusal = drive(host, body)
    assert result == "approved=True"
    assert "approve" in refusal


def test_a_late_answer_to_a_taken_request_is_refused_as_answered(
    host: DurableWorkflowHost,
) -> None:
    """P7 also after the run has ended: the loser of two answers may arrive once the winner
    has already finished the run (which the in-process transport makes likely)."""

    async def body(client: WorkflowClient) -> tuple[str, Exception]:
        run = await client.run(APPROVAL, 8)
        [request] = await _requests(run)
        await run.send_response(request, True)
        result = await run.wait_for_completion()
        with pytest.raises(RequestAlreadyAnsweredError) as late:
            await run.send_response(request, False)
        return result, late.value

    result, late = drive(host, body)
    assert result == "approved=True"
    assert "already answered" in str(late)


def test_a_failing_executor_fails_the_run_naming_it(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> WorkflowFailedError:
        run = await client.run(FAILING, 3)
        with pytest.raises(WorkflowFailedError) as failed:
            await run.wait_for_completion()
        return failed.value

    error = drive(host, body)
    assert error.executor_id == "boom"
    assert "kaput 3" in str(error)


def test_streamed_events_are_the_same(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> list[Any]:
        run = await client.stream(CHAIN, 2)
        return [event async for event in run.watch_stream()]

    events = drive(host, body)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert [(e.type, getattr(e, "executor_id", None)) for e in events] == [
        ("workflow_started", None),
        ("executor_invoked", "double"),
        ("executor_completed", "double"),
        ("executor_invoked", "label"),
        ("workflow_output", "label"),
        ("executor_completed", "label"),
        ("workflow_completed", None),
    ]
    assert events[-1].outputs == ["v=4"]


def test_a_grpc_client_of_another_loop_sees_the_same_runs(host: DurableWorkflowHost) -> None:
    """The sidecar still serves `host.address` while the host's worker runs in-process."""

    async def start(client: WorkflowClient) -> str:
        return (await client.run(CHAIN, 5)).run_id

    run_id = drive(host, start)

    async def read() -> Any:
        client = WorkflowClient(create_client(host.address, asynchronous=True), ALL)
        try:
            return await (await client.get_run(run_id)).wait_for_completion(timeout=30)
        finally:
            await client.close()

    assert asyncio.run(read()) == "v=10"


def test_auto_is_in_process_on_the_embedded_backend_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TRANSPORT_ENV_VAR, raising=False)
    assert resolve_transport(None, embedded=True) == "inprocess"
    assert resolve_transport(None, embedded=False) == "grpc"
    assert resolve_transport("auto", embedded=False) == "grpc"
    assert resolve_transport("grpc", embedded=True) == "grpc"


def test_the_environment_variable_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRANSPORT_ENV_VAR, "GRPC")
    assert resolve_transport(None, embedded=True) == "grpc"
    assert resolve_transport("inprocess", embedded=True) == "inprocess"
    monkeypatch.setenv(TRANSPORT_ENV_VAR, "inprocess")
    assert resolve_transport(None, embedded=False) == "grpc"  # means "where possible"
    monkeypatch.setenv(TRANSPORT_ENV_VAR, "carrier-pigeon")
    with pytest.raises(DurableWorkflowsError, match=TRANSPORT_ENV_VAR):
        resolve_transport(None, embedded=True)


def test_in_process_needs_the_embedded_backend() -> None:
    with SqliteSidecar() as sidecar:
        with pytest.raises(DurableWorkflowsError, match="needs the embedded backend"):
            DurableWorkflowHost(
                workflows=[CHAIN], connection_string=sidecar.address, transport="inprocess"
            )
        remote = DurableWorkflowHost(workflows=[CHAIN], connection_string=sidecar.address)
        assert remote.transport == "grpc"
    with pytest.raises(DurableWorkflowsError, match="transport= must be one of"):
        DurableWorkflowHost(workflows=[CHAIN], transport="pigeon")  # type: ignore[arg-type]


def test_an_in_process_client_is_woken_by_a_state_change() -> None:
    """`InProcessClient.state_change` (used by every wait of an in-process client) returns
    when the run's status (or with ``custom=True`` its custom status, where verdicts on
    responses appear) changes, at once if it already differs, or at its timeout."""

    async def main() -> list[bool]:
        async with DurableWorkflowHost(workflows=[APPROVAL], transport="inprocess") as host:
            durable = host.client.durable_client
            run = await host.client.run(APPROVAL, 3)
            [request] = await _requests(run)
            before = await durable.get_orchestration_state(run.run_id)
            await asyncio.wait_for(durable.state_change(before, 0.1), 5)  # times out
            status = asyncio.ensure_future(durable.state_change(before, 30))
            custom = asyncio.ensure_future(durable.state_change(before, 30, custom=True))
            await asyncio.sleep(0.05)
            idle = not status.done() and not custom.done()
            await run.send_response(request, True)  # returns once the verdict is published
            await asyncio.wait_for(custom, 10)
            await run.wait_for_completion(timeout=10)
            await asyncio.wait_for(status, 10)
            await asyncio.wait_for(durable.state_change(before, 30), 5)  # differs already
            done = (await run.get_status()).status == "COMPLETED"
            return [idle, done]

    assert asyncio.run(main()) == [True, True]


def test_a_stream_outwaits_an_event_log_that_lags_the_status() -> None:
    """The status announces events before the event log's entity has stored them; a stream
    that finds them missing reads again (waiting for a status change instead would wait
    forever once the run waits for input)."""

    async def main() -> list[str]:
        async with DurableWorkflowHost(workflows=[APPROVAL], transport="inprocess") as host:
            run = await host.client.stream(APPROVAL, 3)
            read_chunk, lagged = run._read_chunk, [0]

            async def lagging(sequence: int) -> list[Any]:
                if lagged[0] < 3:
                    lagged[0] += 1
                    return []
                return await read_chunk(sequence)

            run._read_chunk = lagging  # type: ignore[method-assign]
            seen: list[str] = []
            async for event in run.watch_stream():
                seen.append(type(event).__name__)
                if isinstance(event, WaitingForInputEvent):
                    break
            return seen

    seen = asyncio.run(asyncio.wait_for(main(), 20))
    assert seen[-1] == "WaitingForInputEvent"


@pytest.mark.parametrize("transport", ["inprocess", "grpc"])
def test_wait_until_settled_returns_when_the_run_waits_or_ends(transport: str) -> None:
    """`run.wait_until_settled` (behind the HTTP API's ``?wait=``): the status once the run
    waits for input or has ended; with ``answered``, not before the run took that answer."""

    async def main() -> list[str]:
        async with DurableWorkflowHost(workflows=[APPROVAL], transport=transport) as host:
            run = await host.client.run(APPROVAL, 3)
            waiting = await run.wait_until_settled(10)
            [request] = waiting.pending_requests
            await run.raise_event(request.port_id, True)  # returns before the run takes it
            ended = await run.wait_until_settled(10, answered=request.request_id)
            again = await run.wait_until_settled(0)
            return [waiting.state, ended.state, again.state]

    assert asyncio.run(main()) == ["waiting", "completed", "completed"]
