"""Issue 10, defect 1: large payloads complete or fail with a clear size error, never wedge.

On the old main, a generation history over gRPC's 4 MB receive limit killed the worker's
stream on every delivery: the run hung RUNNING, every other run on the host stayed PENDING,
and `get_status()` raised a raw ``AioRpcError``. Now no channel caps message sizes, a
generation continues-as-new by history bytes, large shared state is passed by reference,
and a payload over `max_payload_bytes` fails its run (or is refused) naming it and its size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from durable_workflows import (
    DurableWorkflowHost,
    PayloadTooLargeError,
    RequestPort,
    WorkflowBuilder,
    WorkflowClient,
    WorkflowContext,
    WorkflowFailedError,
    executor,
)
from durable_workflows.graph.workflow import Workflow

from ._size_helpers import (
    MB,
    assert_host_still_works,
    drive,
    history_payload_bytes,
    tiny_workflow,
)

pytestmark = pytest.mark.e2e


def _measure_chain() -> Workflow:
    @executor(id="keep")
    def keep(text: str) -> str:
        return text

    @executor(id="measure")
    def measure(text: str) -> int:
        return len(text)

    return WorkflowBuilder(keep, name="SizesChain").add_chain([keep, measure]).build()


def _fan_out(name: str, *, join: bool) -> Workflow:
    """start -> 20 parts of 1 MB each -> (join: a fan-in of all 20 | each part yields it)."""

    @executor(id="start")
    def start(n: int) -> int:
        return n

    def make_part(i: int) -> object:
        if join:

            @executor(id=f"part{i}")
            def part(n: int) -> str:
                return chr(ord("a") + i) * MB

            return part

        @executor(id=f"part{i}")
        def yielding_part(n: int, ctx: WorkflowContext[None, str]) -> None:
            ctx.yield_output(chr(ord("a") + i) * MB)

        return yielding_part

    parts = [make_part(i) for i in range(20)]
    builder = WorkflowBuilder(start, name=name).add_fan_out_edge(start, parts)
    if join:

        @executor(id="join")
        def gather(texts: list[str]) -> int:
            return sum(len(t) for t in texts)

        builder.add_fan_in_barrier_edge(parts, gather)
    return builder.build()


def _shared_fan_out() -> Workflow:
    """start stores 100 KB of shared state; 50 readers each read it; join sums what they saw."""

    @executor(id="start")
    def start(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.set_state("blob", "s" * 100_000)
        ctx.send_message(n)

    def make_reader(i: int) -> object:
        @executor(id=f"reader{i}")
        def reader(n: int, ctx: WorkflowContext[int]) -> None:
            ctx.send_message(len(ctx.get_state("blob")))

        return reader

    readers = [make_reader(i) for i in range(50)]

    @executor(id="join")
    def join(seen: list[int]) -> int:
        return sum(seen)

    return (
        WorkflowBuilder(start, name="SizesShared")
        .add_fan_out_edge(start, readers)
        .add_fan_in_barrier_edge(readers, join)
        .build()
    )


def _big_loop() -> Workflow:
    """Twelve supersteps, each passing 1 MB on to the next."""

    @executor(id="step")
    def step(text: str, ctx: WorkflowContext[str, int]) -> None:
        if text.count("|") < 12:
            ctx.send_message(text + "|")
        else:
            ctx.yield_output(len(text))

    return (
        WorkflowBuilder(step, name="SizesLoop")
        .add_edge(step, step, lambda text: text.count("|") <= 12)
        .build()
    )


def _ask() -> Workflow:
    @executor(id="ask")
    def ask(n: int) -> int:
        return n

    port = RequestPort("answer", request_type=int, response_type=str)

    @executor(id="measure")
    def measure(text: str) -> int:
        return len(text)

    return WorkflowBuilder(ask, name="SizesAsk").add_chain([ask, port, measure]).build()


CHAIN = _measure_chain()
FAN_JOIN = _fan_out("SizesFanJoin", join=True)
FAN_YIELD = _fan_out("SizesFanYield", join=False)
SHARED = _shared_fan_out()
LOOP = _big_loop()
ASK = _ask()
TINY = tiny_workflow("SizesTiny")
WORKFLOWS = [CHAIN, FAN_JOIN, FAN_YIELD, SHARED, LOOP, ASK, TINY]


@pytest.fixture(scope="module")
def host() -> Iterator[DurableWorkflowHost]:
    with DurableWorkflowHost(workflows=WORKFLOWS) as running:
        yield running


@pytest.fixture
def small_host() -> Iterator[DurableWorkflowHost]:
    """A host whose payload limit is 200,000 bytes."""
    with DurableWorkflowHost(workflows=WORKFLOWS, max_payload_bytes=200_000) as running:
        yield running


def test_5mb_input_completes_and_the_host_keeps_working(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> None:
        run = await client.run(CHAIN, "x" * (5 * MB))
        assert await run.wait_for_completion() == 5 * MB
        assert (await run.get_status()).status == "COMPLETED"
        await assert_host_still_works(client, TINY)

    drive(host, body)


def test_20_x_1mb_fan_in_fails_naming_the_node_and_size(host: DurableWorkflowHost) -> None:
    """T4: a message over the limit (20 x 1 MB into one fan-in) fails the run, naming it."""

    async def body(client: WorkflowClient) -> None:
        run = await client.run(FAN_JOIN, 1)
        with pytest.raises(WorkflowFailedError) as caught:
            await run.wait_for_completion()
        message = str(caught.value)
        assert "executor 'join'" in message
        assert "bytes, over the limit of 16,777,216" in message
        status = await run.get_status()
        assert status.status == "FAILED" and "'join'" in (status.error or "")
        await assert_host_still_works(client, TINY)

    drive(host, body)


def test_20_x_1mb_fan_out_of_outputs_completes(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> None:
        run = await client.run(FAN_YIELD, 1)
        await run.wait_for_completion()
        assert sorted(o[0] for o in run.outputs) == [chr(ord("a") + i) for i in range(20)]
        assert all(len(o) == MB for o in run.outputs)
        await assert_host_still_works(client, TINY)

    drive(host, body)


def test_shared_state_is_not_copied_into_every_activity_input(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> None:
        run = await client.run(SHARED, 1)
        assert await run.wait_for_completion() == 50 * 100_000
        # one stored copy (and the result that set it), not one per reader (50 x 100 KB)
        assert await history_payload_bytes(client.durable_client, run.run_id) < 500_000

    drive(host, body)


def test_history_bytes_trigger_continue_as_new(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> None:
        run = await client.run(LOOP, "x" * MB)
        assert await run.wait_for_completion() == MB + 12
        # twelve 1 MB supersteps would leave ~24 MB in one generation; it continued as new
        assert await history_payload_bytes(client.durable_client, run.run_id) < 8 * MB

    drive(host, body)


def test_result_over_the_limit_fails_the_executor_clearly(small_host: DurableWorkflowHost) -> None:
    """T4: a result over the limit fails its node."""

    async def body(client: WorkflowClient) -> None:
        run = await client.run(FAN_JOIN, 1)
        with pytest.raises(WorkflowFailedError) as caught:
            await run.wait_for_completion()
        assert (caught.value.executor_id or "").startswith("part")
        assert "PayloadTooLargeError" in caught.value.error
        assert "over the limit of 200,000 bytes" in caught.value.error
        await assert_host_still_works(client, TINY)

    drive(small_host, body)


def test_input_over_the_limit_is_refused_at_start(small_host: DurableWorkflowHost) -> None:
    """T4: an input over the limit is refused before anything is sent."""

    async def body(client: WorkflowClient) -> None:
        with pytest.raises(PayloadTooLargeError) as caught:
            await client.run(CHAIN, "x" * 300_000, run_id="too-big")
        assert "run 'too-big' of workflow 'SizesChain'" in str(caught.value)
        assert caught.value.size > 300_000 and caught.value.limit == 200_000
        await assert_host_still_works(client, TINY)

    drive(small_host, body)


def test_response_over_the_limit_is_refused_and_the_run_keeps_waiting(
    small_host: DurableWorkflowHost,
) -> None:
    """T4: a response over the limit is refused before it is sent; the run keeps waiting."""

    async def body(client: WorkflowClient) -> None:
        run = await client.run(ASK, 1)
        for _ in range(500):
            pending = await run.pending_requests()
            if pending:
                break
            await asyncio.sleep(0.02)
        with pytest.raises(PayloadTooLargeError) as caught:
            await run.send_response(pending[0], "x" * 300_000)
        assert f"request {pending[0].request_id!r} of run {run.run_id!r}" in str(caught.value)
        await run.send_response(pending[0], "fits")
        assert await run.wait_for_completion() == 4

    drive(small_host, body)
