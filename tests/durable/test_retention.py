"""Retention: finished runs (and event logs of streamed runs) are purged once old enough."""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from durabletask.entities import EntityInstanceId

from durable_workflows import (
    DurableWorkflowHost,
    DurableWorkflowsError,
    RequestPort,
    WorkflowBuilder,
    WorkflowClient,
    WorkflowContext,
    executor,
)
from durable_workflows.cli.listing import parse_duration
from durable_workflows.cli.main import main
from durable_workflows.durable.names import EVENT_LOG_ENTITY, SHARED_STATE_ENTITY
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.retention import RetentionLoop

from .test_run_listing import GATE
from .workflows import chain

pytestmark = pytest.mark.e2e

CHAIN = chain("RetainChain")


def _big_state() -> Workflow:
    """Stores 40 KB of shared state (passed by reference), reads it, then waits for input."""

    @executor(id="fill")
    def fill(x: int, ctx: WorkflowContext[int]) -> None:
        ctx.set_state("big", "x" * 40_000)
        ctx.send_message(x)

    @executor(id="use")
    def use(x: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(x + len(ctx.get_state("big")))

    wait = RequestPort("wait", request_type=int, response_type=bool)
    return WorkflowBuilder(fill, name="RetainBig").add_chain([fill, use, wait]).build()


BIG = _big_state()


async def _event_log_exists(client: WorkflowClient, run_id: str) -> bool:
    entity = EntityInstanceId(EVENT_LOG_ENTITY, f"{run_id}~0")
    return await client.durable_client.get_entity(entity) is not None


async def _until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def test_a_host_with_retention_purges_old_finished_runs_and_their_event_logs() -> None:
    async def body() -> None:
        async with DurableWorkflowHost(
            workflows=[CHAIN, GATE], retention=timedelta(seconds=1)
        ) as host:
            client = host.client
            streamed = await client.stream(CHAIN, 1)
            events = [e async for e in streamed.watch_stream()]
            assert events[-1].type == "workflow_completed"
            plain = await client.run(CHAIN, 2)
            await plain.wait_for_completion(timeout=30)
            waiting = await client.run(GATE, 3)
            assert await _event_log_exists(client, streamed.run_id)

            async def purged() -> bool:
                ids = {r.run_id for r in await client.list_runs()}
                return streamed.run_id not in ids and plain.run_id not in ids

            await _until(purged)
            await _until(lambda: _not(_event_log_exists(client, streamed.run_id)))
            assert (await waiting.get_status()).is_active  # active runs are never purged
            assert host._retention is not None and host._retention.purged >= 2

    asyncio.run(body())


async def _not(check: Any) -> bool:
    return not await check


def test_client_purge_runs_and_the_purge_command(capsys: pytest.CaptureFixture[str]) -> None:
    with DurableWorkflowHost(workflows=[CHAIN, GATE]) as host:

        async def body() -> None:
            client = host.client
            done = [await client.run(CHAIN, i) for i in range(3)]
            for run in done:
                await run.wait_for_completion(timeout=30)
            waiting = await client.run(GATE, 1)
            assert await client.purge_runs(timedelta(hours=1)) == 0  # not old enough
            assert await client.purge_runs(timedelta(0)) == len(done)
            assert {r.run_id for r in await client.list_runs()} == {waiting.run_id}

        asyncio.run(asyncio.wait_for(body(), 60))

        async def another() -> None:
            await (await host.client.run(CHAIN, 9)).wait_for_completion(timeout=30)

        asyncio.run(another())
        assert main(["purge", "--older-than", "0s", "--connection-string", host.address]) == 0
        assert capsys.readouterr().out.startswith("purged 1 run finished before ")


def test_durations_and_retention_are_checked() -> None:
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    with pytest.raises(argparse.ArgumentTypeError, match="invalid duration '7 days'"):
        parse_duration("7 days")
    with pytest.raises(DurableWorkflowsError, match="retention must be a positive timedelta"):
        DurableWorkflowHost(workflows=[CHAIN], retention=timedelta(0))
    loop = RetentionLoop(lambda: None, timedelta(days=7), None)  # type: ignore[arg-type]
    assert loop.interval == timedelta(minutes=10)
    loop.stop()  # never started: nothing to wait for


def test_purging_a_terminated_run_deletes_the_shared_state_it_left() -> None:
    async def body() -> None:
        async with DurableWorkflowHost(workflows=[BIG]) as host:
            client = host.client
            run = await client.run(BIG, 1)
            while not await run.pending_requests():
                await asyncio.sleep(0.05)
            shared = EntityInstanceId(SHARED_STATE_ENTITY, run.run_id)

            async def stored() -> bool:
                return await client.durable_client.get_entity(shared) is not None

            assert await stored()
            # terminated by a plain durabletask client (run.cancel() would drop the state)
            await client.durable_client.terminate_orchestration(run.run_id)
            await _until(lambda: _is_cancelled(run))
            assert await stored()
            assert await client.purge_runs(timedelta(0)) == 1
            await _until(lambda: _not(stored()))

    asyncio.run(asyncio.wait_for(body(), 60))


async def _is_cancelled(run: Any) -> bool:
    return bool((await run.get_status()).state == "cancelled")
