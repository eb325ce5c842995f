"""Idempotent starts (`if_exists`) and `list_runs` on the embedded backend."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from durable_workflows import (
    DurableWorkflowHost,
    DurableWorkflowsError,
    RequestPort,
    RunAlreadyExistsError,
    StreamingWorkflowRun,
    WorkflowBuilder,
    WorkflowClient,
    WorkflowContext,
    executor,
)
from durable_workflows.cli.main import main
from durable_workflows.durable.orchestrator import SUPERSTEPS_PER_GENERATION
from durable_workflows.graph.workflow import Workflow

from .workflows import chain

pytestmark = pytest.mark.e2e

CHAIN = chain("ListChain")


def _gate(name: str) -> Workflow:
    @executor(id="ask")
    def ask(x: int) -> int:
        return x

    port = RequestPort("approve", request_type=int, response_type=bool)

    @executor(id="decide")
    def decide(ok: bool) -> str:
        if not ok:
            raise ValueError("denied")
        return "ok"

    return WorkflowBuilder(ask, name=name).add_chain([ask, port, decide]).build()


GATE = _gate("ListGate")


def _long_then_wait() -> Workflow:
    """Counts past a continue-as-new boundary, then waits for an answer."""
    limit = SUPERSTEPS_PER_GENERATION + 5

    @executor(id="count")
    def count(x: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(x + 1)

    port = RequestPort("approve", request_type=int, response_type=bool)

    @executor(id="done")
    def done(ok: bool) -> bool:
        return ok

    return (
        WorkflowBuilder(count, name="ListLong", max_supersteps=limit + 10)
        .add_edge(count, count, lambda x: x < limit)
        .add_edge(count, port, lambda x: x >= limit)
        .add_edge(port, done)
        .build()
    )


LONG = _long_then_wait()
ALL = [CHAIN, GATE, LONG]


@pytest.fixture(scope="module")
def host() -> Iterator[DurableWorkflowHost]:
    with DurableWorkflowHost(workflows=ALL) as running:
        yield running


def drive(host: DurableWorkflowHost, body: Callable[[WorkflowClient], Awaitable[Any]]) -> Any:
    async def main_() -> Any:
        return await asyncio.wait_for(body(host.client), 60)

    return asyncio.run(main_())


def new_id() -> str:
    return f"run-{uuid.uuid4().hex[:10]}"


async def until_waiting(client: WorkflowClient, run_id: str) -> None:
    run = await client.get_run(run_id)
    for _ in range(500):
        if (await run.get_status()).state == "waiting":
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{run_id} never waited")


# -- idempotent start ---------------------------------------------------------------------------


def test_a_taken_run_id_raises_by_default(host: DurableWorkflowHost) -> None:
    run_id = new_id()

    async def body(client: WorkflowClient) -> None:
        await client.run(CHAIN, 1, run_id=run_id)
        with pytest.raises(RunAlreadyExistsError, match=run_id) as caught:
            await client.run(CHAIN, 1, run_id=run_id)
        assert caught.value.run_id == run_id

    drive(host, body)


def test_if_exists_return_gives_the_same_run_and_starts_no_second(
    host: DurableWorkflowHost,
) -> None:
    run_id = new_id()

    async def body(client: WorkflowClient) -> list[Any]:
        first = await client.stream(GATE, 3, run_id=run_id)
        again = await client.stream(GATE, 3, run_id=run_id, if_exists="return")
        await until_waiting(client, run_id)
        (request,) = await again.pending_requests()
        await again.send_response(request, True)
        return [first, again, await first.wait_for_completion(timeout=30)]

    first, again, result = drive(host, body)
    assert isinstance(again, StreamingWorkflowRun) and again.run_id == first.run_id
    assert result == "ok"


def test_if_exists_return_refuses_another_input_workflow_or_mode(host: DurableWorkflowHost) -> None:
    run_id = new_id()

    async def body(client: WorkflowClient) -> list[str]:
        await client.run(CHAIN, 1, run_id=run_id)
        messages = []
        for attempt in (
            client.run(CHAIN, 2, run_id=run_id, if_exists="return"),
            client.run(GATE, 1, run_id=run_id, if_exists="return"),
            client.stream(CHAIN, 1, run_id=run_id, if_exists="return"),
        ):
            with pytest.raises(RunAlreadyExistsError) as caught:
                await attempt
            messages.append(caught.value.reason)
        return messages

    assert drive(host, body) == [
        "it was started with a different input",
        "it is not a run of 'ListGate'",
        "it was started without streaming",
    ]


def test_equal_inputs_are_recognised_after_continue_as_new(host: DurableWorkflowHost) -> None:
    run_id = new_id()

    async def body(client: WorkflowClient) -> Any:
        await client.run(LONG, 0, run_id=run_id)
        await until_waiting(client, run_id)  # past a continue-as-new: the stored input is gone
        status = await (await client.get_run(run_id)).get_status()
        assert status.superstep > SUPERSTEPS_PER_GENERATION
        same = await client.run(LONG, 0, run_id=run_id, if_exists="return")
        with pytest.raises(RunAlreadyExistsError, match="different input"):
            await client.run(LONG, 1, run_id=run_id, if_exists="return")
        return same.run_id

    assert drive(host, body) == run_id


def test_concurrent_starts_with_one_id_make_one_run(host: DurableWorkflowHost) -> None:
    run_id = new_id()

    async def body(client: WorkflowClient) -> list[str]:
        runs = await asyncio.gather(
            *(client.run(GATE, 5, run_id=run_id, if_exists="return") for _ in range(8))
        )
        return [r.run_id for r in runs]

    assert drive(host, body) == [run_id] * 8


def test_if_exists_must_be_error_or_return(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> None:
        with pytest.raises(DurableWorkflowsError, match="if_exists"):
            await client.run(CHAIN, 1, run_id=new_id(), if_exists="replace")  # type: ignore[arg-type]

    drive(host, body)


# -- listing -------------------------------------------------------------------------------------


def test_list_runs_newest_first_with_filters(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> dict[str, Any]:
        before = datetime.now(timezone.utc) - timedelta(milliseconds=5)
        done = [new_id() for _ in range(3)]
        for run_id in done:
            await (await client.run(CHAIN, 1, run_id=run_id)).wait_for_completion(timeout=30)
        waiting = new_id()
        await client.run(GATE, 1, run_id=waiting)
        await until_waiting(client, waiting)
        failed = new_id()
        run = await client.run(GATE, 2, run_id=failed)
        await until_waiting(client, failed)
        await run.send_response((await run.pending_requests())[0], False)
        with pytest.raises(Exception, match="denied"):
            await run.wait_for_completion(timeout=30)
        return {
            "done": done,
            "waiting": waiting,
            "failed": failed,
            "chain": await client.list_runs(CHAIN, created_after=before),
            "limited": await client.list_runs("ListChain", limit=2),
            "waiting_runs": await client.list_runs(status="waiting"),
            "failed_runs": await client.list_runs(GATE, status=["failed", "cancelled"]),
            "running": await client.list_runs(GATE, status="running"),
            "future": await client.list_runs(created_after=datetime.now(timezone.utc)),
        }

    found = drive(host, body)
    assert [r.run_id for r in found["chain"]] == found["done"][::-1]
    assert [r.run_id for r in found["limited"]] == found["done"][:0:-1]
    summary = found["chain"][0]
    assert summary.workflow == "ListChain" and summary.status == "completed"
    assert summary.created_at.tzinfo is not None and summary.updated_at >= summary.created_at
    waiting = next(r for r in found["waiting_runs"] if r.run_id == found["waiting"])
    assert waiting.status == "waiting" and waiting.pending_requests == 1 and waiting.superstep == 2
    assert found["failed"] in [r.run_id for r in found["failed_runs"]]
    assert all(r.status == "failed" for r in found["failed_runs"])
    assert found["running"] == []
    assert found["future"] == []


def test_list_runs_refuses_unknown_states_and_limits(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> None:
        with pytest.raises(DurableWorkflowsError, match="'sleeping'"):
            await client.list_runs(status="sleeping")  # type: ignore[arg-type]
        with pytest.raises(DurableWorkflowsError, match="limit"):
            await client.list_runs(limit=0)

    drive(host, body)


def test_runs_command_prints_the_runs(
    host: DurableWorkflowHost, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = new_id()
    drive(host, lambda c: _completed(c, run_id))
    code = main(["runs", "--workflow", "ListChain", "--connection-string", host.address])
    out = capsys.readouterr().out
    assert code == 0
    header, first, *_ = out.splitlines()
    assert header.split() == [
        "RUN", "WORKFLOW", "VERSION", "STATUS", "STEP", "WAITING", "STARTED", "UPDATED"
    ]
    assert first.split()[:6] == [run_id, "ListChain", CHAIN.version, "completed", "3", "0"]
    assert (
        main(
            [
                "runs",
                "--status",
                "waiting",
                "--workflow",
                "NoSuchFlow",
                "--connection-string",
                host.address,
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == "no runs\n"
    assert main(["runs", "--json", "--limit", "1", "--connection-string", host.address]) == 0
    assert '"runId": ' in capsys.readouterr().out


async def _completed(client: WorkflowClient, run_id: str) -> None:
    await (await client.run(CHAIN, 1, run_id=run_id)).wait_for_completion(timeout=30)
