"""Workflow versions: runs are pinned to the definition they started with (docs/versioning.md)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from durable_workflows import (
    DurableWorkflowHost,
    InvalidResponseError,
    RequestPort,
    WorkflowBuilder,
    WorkflowDefinitionError,
    WorkflowFailedError,
    WorkflowValidationError,
    executor,
)
from durable_workflows.durable.names import EVENT_LOG_ENTITY, SHARED_STATE_ENTITY
from durable_workflows.durable.registration import register, work_item_filters
from durable_workflows.durable.versions import WorkflowVersions
from durable_workflows.graph.workflow import Workflow
from durable_workflows.sidecar import SqliteSidecar

pytestmark = pytest.mark.e2e


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body on a fresh event loop (with a 120 s limit)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 120))

    return run


def order(version: str | None, *, extra_step: bool = False) -> Workflow:
    """`Order` v1: ask for approval, then say what was decided. v2 also adds a fee step."""

    @executor(id="receive")
    def receive(amount: int) -> int:
        return amount

    approve = RequestPort("approve", request_type=int, response_type=bool)

    @executor(id="fee")
    def fee(ok: bool) -> bool:
        return ok

    @executor(id="decide")
    def decide(ok: bool) -> str:
        return f"{version}:{'approved' if ok else 'rejected'}"

    builder = WorkflowBuilder(receive, name="Order", version=version).add_edge(receive, approve)
    if extra_step:
        builder.add_chain([approve, fee, decide])
    else:
        builder.add_edge(approve, decide)
    return builder.build()


V1 = order("1")
V2 = order("2", extra_step=True)


async def _waiting_run(host: DurableWorkflowHost, workflow: Workflow, amount: int) -> str:
    run = await host.client.run(workflow, amount)
    while not await run.pending_requests():
        await asyncio.sleep(0.02)
    return run.run_id


@sync
async def test_a_v1_run_finishes_on_v1_after_a_restart_with_v2_current(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    async with DurableWorkflowHost(workflows=[V1], database=db) as host:
        old_id = await _waiting_run(host, V1, 10)

    async with DurableWorkflowHost(workflows=[V2], previous_versions=[V1], database=db) as host:
        old = await host.client.get_run(old_id)
        assert old.workflow is V1
        status = await old.get_status()
        assert (status.version, status.state) == ("1", "waiting")

        new = await host.client.run(V2, 20)
        while not await new.pending_requests():
            await asyncio.sleep(0.02)
        assert (await new.get_status()).version == "2"

        await old.send_response((await old.pending_requests())[0], True)
        assert await asyncio.wait_for(old.wait_for_completion(), 60) == "1:approved"
        await new.send_response((await new.pending_requests())[0], False)
        assert await asyncio.wait_for(new.wait_for_completion(), 60) == "2:rejected"

        listed = {r.run_id: r.version for r in await host.client.list_runs(V2)}
        assert listed == {old_id: "1", new.run_id: "2"}


@sync
async def test_a_run_whose_version_no_worker_has_fails_naming_it(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    async with DurableWorkflowHost(workflows=[V1], database=db) as host:
        old_id = await _waiting_run(host, V1, 10)

    async with DurableWorkflowHost(workflows=[V2], database=db) as host:
        run = await host.client.get_run(old_id)
        with pytest.raises(InvalidResponseError, match=r"ended \(FAILED\) before it took"):
            await run.send_response((await run.pending_requests())[0], True)
        with pytest.raises(WorkflowFailedError, match="needs version '1'") as failed:
            await asyncio.wait_for(run.wait_for_completion(), 60)
        assert "previous_versions" in str(failed.value)
        assert "it has '2'" in str(failed.value)


@sync
async def test_an_unlabelled_workflow_is_versioned_by_its_graph_hash(tmp_path: Path) -> None:
    plain = order(None)
    assert plain.version == plain.graph_hash
    changed = order(None, extra_step=True)
    assert changed.version != plain.version
    db = tmp_path / "runs.db"
    async with DurableWorkflowHost(workflows=[plain], database=db) as host:
        old_id = await _waiting_run(host, plain, 1)
    async with DurableWorkflowHost(
        workflows=[changed], previous_versions=[plain], database=db
    ) as host:
        run = await host.client.get_run(old_id)
        await run.send_response((await run.pending_requests())[0], True)
        assert await asyncio.wait_for(run.wait_for_completion(), 60) == "None:approved"


def test_a_bad_version_label_is_a_build_error() -> None:
    with pytest.raises(WorkflowValidationError, match="workflow version 'v 2'"):
        order("v 2")


def test_registered_versions_are_checked() -> None:
    with pytest.raises(WorkflowDefinitionError, match="has no current version"):
        WorkflowVersions([], [V1])
    with pytest.raises(WorkflowDefinitionError, match="two definitions with version '1'"):
        WorkflowVersions([V1], [order("1", extra_step=True)])
    with pytest.raises(WorkflowDefinitionError, match="two workflows are named 'Order'"):
        WorkflowVersions([V1, V2])
    assert list(WorkflowVersions([V2], [V1, V1])) == [V2, V1]


def test_work_item_filters_name_the_versions_a_worker_can_replay() -> None:
    from durabletask import worker as dt_worker

    versions = WorkflowVersions([V2], [V1])
    worker = dt_worker.TaskHubGrpcWorker(host_address="localhost:1")  # never started
    register(worker, versions)
    filters = work_item_filters(versions, worker)
    assert [(f.name, f.versions) for f in filters.orchestrations] == [("dw.Order", ["1", "2"])]
    assert sorted(f.name for f in filters.activities) == sorted(
        [f"dw.Order@1.{n}" for n in ("receive", "decide")]
        + [f"dw.Order@2.{n}" for n in ("receive", "fee", "decide")]
    )
    assert sorted(f.name for f in filters.entities) == sorted([EVENT_LOG_ENTITY, SHARED_STATE_ENTITY])
    sent = filters._to_grpc()  # what the worker sends in GetWorkItems
    assert list(sent.orchestrations[0].versions) == ["1", "2"]


@pytest.mark.parametrize("backend", ["sidecar address", "scheduler"])
@sync
async def test_with_filters_a_worker_only_receives_runs_it_can_replay(backend: str) -> None:
    """Rolling deploy on a shared backend: a worker with only v2 leaves a v1 run alone (it
    stays pending) until a worker that has v1 takes it. Through a Durable Task Scheduler
    connection string (durabletask-azuremanaged's worker) the filters are on by default."""
    with SqliteSidecar() as sidecar:
        if backend == "scheduler":
            address = f"Endpoint=http://{sidecar.address};TaskHub=default;Authentication=None"
            filters: dict[str, Any] = {}
        else:
            address, filters = sidecar.address, {"version_filters": True}
        async with DurableWorkflowHost(
            workflows=[V2], previous_versions=[V1], connection_string=address, mode="client"
        ) as clients, DurableWorkflowHost(
            workflows=[V2], connection_string=address, mode="worker", **filters
        ):
            v1_run = await clients.client.run(V1, 5)
            v2_run = await clients.client.run(V2, 6)
            while not await v2_run.pending_requests():
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)
            assert (await v1_run.get_status()).state == "pending"
            async with DurableWorkflowHost(
                workflows=[V2],
                previous_versions=[V1],
                connection_string=address,
                mode="worker",
                **filters,
            ):
                while not await v1_run.pending_requests():
                    await asyncio.sleep(0.02)
                await v1_run.send_response((await v1_run.pending_requests())[0], True)
                assert await asyncio.wait_for(v1_run.wait_for_completion(), 60) == "1:approved"
