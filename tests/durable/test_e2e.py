"""End to end on the embedded backend through DurableWorkflowHost and WorkflowClient."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from durable_workflows import (
    CustomEvent,
    DurableWorkflowHost,
    ExecutorFailedEvent,
    InvalidResponseError,
    RequestPort,
    RetryPolicy,
    WaitingForInputEvent,
    WorkflowBuilder,
    WorkflowClient,
    WorkflowCompletedEvent,
    WorkflowContext,
    WorkflowEvent,
    WorkflowFailedError,
    WorkflowFailedEvent,
    WorkflowNotFoundError,
    WorkflowStartedEvent,
    executor,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.embedded import EmbeddedBackend
from durable_workflows.hosting.factories import create_client
from durable_workflows.testing import run_in_process

from .workflows import chain, loop, parallel_ports

# -- workflows ---------------------------------------------------------------------------

CHAIN = chain("E2EChain")


PORTS = parallel_ports("E2EParallelPorts")


def _timeout() -> Workflow:
    @executor(id="ask")
    def ask(x: int) -> int:
        return x

    port = RequestPort(
        "slowpoke", request_type=int, response_type=bool, timeout=timedelta(seconds=1)
    )

    @executor(id="after")
    def after(ok: bool) -> bool:
        return ok

    return WorkflowBuilder(ask, name="E2ETimeout").add_chain([ask, port, after]).build()


TIMEOUT = _timeout()


def _failing() -> Workflow:
    @executor(id="fine")
    def fine(x: int) -> int:
        return x

    @executor(id="boom")
    def boom(x: int) -> int:
        raise ValueError(f"kaput {x}")

    return WorkflowBuilder(fine, name="E2EFailing").add_edge(fine, boom).build()


FAILING = _failing()

_flaky_attempts: dict[str, int] = {}
_flaky_lock = threading.Lock()


def _flaky() -> Workflow:
    @executor(
        id="flaky",
        retry=RetryPolicy(max_attempts=3, first_retry_interval=timedelta(milliseconds=100)),
    )
    def flaky(key: str) -> str:
        with _flaky_lock:
            _flaky_attempts[key] = _flaky_attempts.get(key, 0) + 1
            attempt = _flaky_attempts[key]
        if attempt < 3:
            raise RuntimeError(f"transient failure {attempt}")
        return f"ok after {attempt}"

    return WorkflowBuilder(flaky, name="E2EFlaky").build()


FLAKY = _flaky()


def _endless() -> Workflow:
    @executor(id="spin")
    def spin(x: int) -> int:
        return x + 1

    return WorkflowBuilder(spin, name="E2EEndless", max_supersteps=5).add_edge(spin, spin).build()


ENDLESS = _endless()
LOOP = loop("E2ELoop", 120, max_supersteps=200)
MANY_EVENTS_COUNT = 5000


def _many_events() -> Workflow:
    @executor(id="chatty")
    def chatty(n: int, ctx: WorkflowContext[Any, int]) -> None:
        for i in range(n):
            ctx.add_event(i)
        ctx.yield_output(n)

    return WorkflowBuilder(chatty, name="E2EManyEvents").build()


MANY = _many_events()


def _twin(name: str, suffix: str) -> Workflow:
    @executor(id="step")  # same node id in both workflows
    def step(x: str) -> str:
        return x + suffix

    return WorkflowBuilder(step, name=name).build()


TWIN_A = _twin("E2ETwinA", "-A")
TWIN_B = _twin("E2ETwinB", "-B")


def _slow() -> Workflow:
    @executor(id="slow", timeout=timedelta(seconds=1))
    def slow(x: int) -> int:
        time.sleep(3)
        return x

    return WorkflowBuilder(slow, name="E2ESlow").build()


SLOW = _slow()


def _approval() -> Workflow:
    @executor(id="ask")
    def ask(x: int) -> int:
        return x

    port = RequestPort("approve", request_type=int, response_type=bool)

    @executor(id="decide")
    def decide(ok: bool) -> str:
        return f"approved={ok}"

    return WorkflowBuilder(ask, name="E2EApproval").add_chain([ask, port, decide]).build()


APPROVAL = _approval()

ALL = [SLOW, APPROVAL, CHAIN, PORTS, TIMEOUT, FAILING, FLAKY, ENDLESS, LOOP, MANY, TWIN_A, TWIN_B]


# -- fixtures ----------------------------------------------------------------------------


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
    """Run `body(client)` in a fresh event loop with a client of its own."""

    async def main() -> Any:
        client = WorkflowClient(create_client(host.address, asynchronous=True), ALL)
        try:
            return await asyncio.wait_for(body(client), timeout)
        finally:
            await client.close()

    return asyncio.run(main())


async def collect(run: Any, from_sequence: int = 0) -> list[WorkflowEvent]:
    return [event async for event in run.watch_stream(from_sequence=from_sequence)]


async def wait_for_requests(run: Any, count: int) -> list[WaitingForInputEvent]:
    for _ in range(500):
        pending = await run.pending_requests()
        if len(pending) >= count:
            return pending
        await asyncio.sleep(0.02)
    raise AssertionError(f"never saw {count} pending requests")


# -- tests -------------------------------------------------------------------------------


def test_chain_result_and_outputs(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> tuple[Any, list[Any]]:
        run = await client.run(CHAIN, 5)
        return await run.wait_for_completion(), run.outputs

    result, outputs = drive(host, body)
    assert result == "v=11"
    assert outputs == ["v=11"] == run_in_process(CHAIN, 5).outputs


def test_stream_order_and_resume(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> tuple[list[WorkflowEvent], list[WorkflowEvent], int]:
        run = await client.stream(CHAIN, 5)
        events = await collect(run)
        k = len(events) // 2
        resumed = await collect(run, from_sequence=k)
        return events, resumed, k

    events, resumed, k = drive(host, body)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[0], WorkflowStartedEvent)
    assert isinstance(events[-1], WorkflowCompletedEvent)
    assert events[-1].outputs == ["v=11"]
    invoked = [e.executor_id for e in events if e.type == "executor_invoked"]
    assert invoked == ["double", "inc", "fmt"]
    assert len({e.run_id for e in events}) == 1
    assert [e.sequence for e in resumed] == list(range(k + 1, len(events) + 1))
    assert [e.to_dict(CHAIN.registry) for e in resumed] == [
        e.to_dict(CHAIN.registry) for e in events[k:]
    ]


def test_parallel_requests_answered_in_reverse_and_refusals(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> tuple[Any, list[str]]:
        run = await client.stream(PORTS, 7)
        waiting: list[WaitingForInputEvent] = []
        async for event in run.watch_stream():
            if isinstance(event, WaitingForInputEvent):
                waiting.append(event)
                if len(waiting) == 2:
                    break
        assert {w.port_id for w in waiting} == {"first", "second"}
        assert len({w.request_id for w in waiting}) == 2
        assert all(w.request == 7 for w in waiting)
        # wrong type: refused, the run keeps waiting
        with pytest.raises(InvalidResponseError):
            await run.send_response(waiting[0], {"not": "a string"})
        with pytest.raises(InvalidResponseError):
            await run.send_response("no-such-request", "x")
        status = await run.get_status()
        assert status.is_active
        assert len(status.pending_requests) == 2
        # answer in reverse order
        for w in reversed(waiting):
            await run.send_response(w, f"{w.port_id}-answer")
        result = await run.wait_for_completion()
        with pytest.raises(InvalidResponseError):
            await run.send_response(waiting[0], "late")
        return result, [w.port_id for w in waiting]

    result, _port_order = drive(host, body)
    assert sorted(result.split("+")) == ["first-answer", "second-answer"]
    assert result == run_in_process(PORTS, 7, lambda e: f"{e.port_id}-answer").result


def test_port_timeout_fails_run(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> WorkflowFailedError:
        run = await client.run(TIMEOUT, 1)
        with pytest.raises(WorkflowFailedError) as info:
            await run.wait_for_completion(timeout=30)
        return info.value

    error = drive(host, body)
    assert "slowpoke" in str(error)


def test_executor_failure_events_and_error(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> tuple[list[WorkflowEvent], WorkflowFailedError]:
        run = await client.stream(FAILING, 3)
        events = await collect(run)
        with pytest.raises(WorkflowFailedError) as info:
            await run.wait_for_completion()
        return events, info.value

    events, error = drive(host, body)
    assert isinstance(events[-2], ExecutorFailedEvent)
    assert events[-2].executor_id == "boom"
    assert "kaput 3" in events[-2].error
    assert isinstance(events[-1], WorkflowFailedEvent)
    assert events[-1].executor_id == "boom"
    assert "kaput 3" in events[-1].error
    assert error.executor_id == "boom"
    assert "kaput 3" in str(error)


def test_flaky_executor_succeeds_with_retry(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> Any:
        run = await client.run(FLAKY, "k1")
        return await run.wait_for_completion()

    assert drive(host, body) == "ok after 3"
    assert _flaky_attempts["k1"] == 3


def test_max_supersteps_exceeded(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> WorkflowFailedError:
        run = await client.run(ENDLESS, 0)
        with pytest.raises(WorkflowFailedError) as info:
            await run.wait_for_completion()
        return info.value

    error = drive(host, body)
    assert "max_supersteps" in str(error)


def test_long_loop_across_continue_as_new(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> tuple[Any, list[Any], list[WorkflowEvent]]:
        run = await client.stream(LOOP, 1)
        events = await collect(run)
        result = await run.wait_for_completion()
        return result, run.outputs, events

    result, outputs, events = drive(host, body, timeout=120)
    expected = run_in_process(LOOP, 1).outputs
    assert outputs == expected
    assert result == expected[-1] == 120 * 121 // 2
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[-1], WorkflowCompletedEvent)


def test_five_thousand_events_stream_completely(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> tuple[list[WorkflowEvent], Any]:
        run = await client.stream(MANY, MANY_EVENTS_COUNT)
        events = await collect(run)
        return events, await run.wait_for_completion()

    events, result = drive(host, body, timeout=120)
    assert result == MANY_EVENTS_COUNT
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    custom = [e.data for e in events if isinstance(e, CustomEvent)]
    assert custom == list(range(MANY_EVENTS_COUNT))
    assert isinstance(events[-1], WorkflowCompletedEvent)


def test_two_workflows_same_node_ids_do_not_collide(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> list[Any]:
        runs = [await client.run(TWIN_A, "x"), await client.run(TWIN_B, "x")]
        return [await r.wait_for_completion() for r in runs]

    assert drive(host, body) == ["x-A", "x-B"]


def test_client_only_and_worker_only_hosts_share_a_backend() -> None:
    workflow = chain("E2ESplitChain")
    with EmbeddedBackend() as backend:
        worker = DurableWorkflowHost(
            workflows=[workflow], connection_string=backend.address, mode="worker"
        )
        worker.start()
        try:

            async def main() -> tuple[Any, Any]:
                async with DurableWorkflowHost(
                    workflows=[workflow], connection_string=backend.address, mode="client"
                ) as client_host:
                    run = await client_host.client.run(workflow, 10)
                    result = await asyncio.wait_for(run.wait_for_completion(), 30)
                    again = await client_host.client.get_run(run.run_id)
                    return result, (await again.get_status()).status

            assert asyncio.run(main()) == ("v=21", "COMPLETED")
        finally:
            worker.stop()


def test_executor_timeout_fails_run_naming_executor(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> WorkflowFailedError:
        run = await client.run(SLOW, 1)
        with pytest.raises(WorkflowFailedError) as info:
            await run.wait_for_completion(timeout=30)
        return info.value

    error = drive(host, body)
    assert error.executor_id == "slow"
    assert "timed out" in str(error)


def test_raw_bad_payload_refused_run_keeps_waiting_then_cancel(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> tuple[str, int, str, list[WorkflowEvent]]:
        run = await client.stream(APPROVAL, 1)
        pending = await wait_for_requests(run, 1)
        # bypass the client's validation: the orchestrator itself must refuse it
        await client.durable_client.raise_orchestration_event(
            run.run_id, pending[0].request_id, data={"response": {"bogus": 1}}
        )
        await asyncio.sleep(0.5)
        status = await run.get_status()
        await run.cancel()
        with pytest.raises(WorkflowFailedError) as info:
            await run.wait_for_completion(timeout=30)
        events = await collect(run)
        with pytest.raises(WorkflowNotFoundError):
            await client.get_run("no-such-run")
        return status.status, len(status.pending_requests), str(info.value), events

    status, pending, error, events = drive(host, body)
    assert status == "RUNNING"
    assert pending == 1
    assert "TERMINATED" in error
    assert isinstance(events[-1], WorkflowFailedEvent)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))


def test_raw_bad_payload_then_valid_response_completes(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> Any:
        run = await client.run(APPROVAL, 1)
        pending = await wait_for_requests(run, 1)
        await client.durable_client.raise_orchestration_event(
            run.run_id, pending[0].request_id, data="not an envelope"
        )
        await asyncio.sleep(0.3)
        await run.send_response(pending[0], True)
        return await run.wait_for_completion(timeout=30)

    assert drive(host, body) == "approved=True"


class _EmptyEntity:
    def get_state(self) -> str:
        return ""


class _DurableStub:
    """An async durable client whose event-log entity exists but holds no state yet
    (what the backend returns between the status update and the entity's first append)."""

    async def get_entity(self, entity_id: Any) -> _EmptyEntity:
        return _EmptyEntity()


def test_read_chunk_tolerates_empty_entity_state() -> None:
    from durable_workflows.hosting.runs import StreamingWorkflowRun

    run = StreamingWorkflowRun(WorkflowClient(_DurableStub(), [CHAIN]), CHAIN, "r1")
    assert asyncio.run(run._read_chunk(1)) == []
