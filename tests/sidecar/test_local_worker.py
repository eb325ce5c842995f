"""`LocalWorker` and the in-process channels: durabletask's worker and client without gRPC."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import grpc
import pytest
from durabletask import client as dt_client
from durabletask import task
from durabletask import worker as dt_worker

from durable_workflows.sidecar import SqliteSidecar
from durable_workflows.sidecar.inproc import AsyncInProcessChannel, InProcessChannel
from durable_workflows.sidecar.local_worker import LocalWorker

from .helpers import QUIET, start_worker, wait_until


def add_one(ctx: task.ActivityContext, x: int) -> int:
    return x + 1


def counter(ctx: Any, _: Any) -> int:
    value = (ctx.get_state(int) or 0) + 1
    ctx.set_state(value)
    return value


def chain(ctx: task.OrchestrationContext, n: int) -> Any:
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(add_one, input=x)
    counted = yield ctx.call_entity(task.EntityInstanceId("counter", "c1"), "add")
    return [x, counted]


def waits(ctx: task.OrchestrationContext, _: Any) -> Any:
    return (yield ctx.wait_for_external_event("go"))


def local_worker(sidecar: SqliteSidecar, *fns: Any, threads: int = 4) -> LocalWorker:
    worker = dt_worker.TaskHubGrpcWorker(
        channel=InProcessChannel(sidecar.servicer), logger=QUIET,
        concurrency_options=dt_worker.ConcurrencyOptions(maximum_thread_pool_workers=threads))
    local = LocalWorker(sidecar, worker)
    for fn in fns:
        if fn is counter:
            local.add_entity(fn, name="counter")
        elif fn in (chain, waits, slow_orchestration):
            local.add_orchestrator(fn)
        else:
            local.add_activity(fn)
    return local


@pytest.fixture
def in_process(sidecar: SqliteSidecar) -> Iterator[dt_client.TaskHubGrpcClient]:
    c = dt_client.TaskHubGrpcClient(channel=InProcessChannel(sidecar.servicer), logger=QUIET)
    yield c
    c.close()


def test_runs_activities_and_entities_in_process(
    sidecar: SqliteSidecar, in_process: dt_client.TaskHubGrpcClient
) -> None:
    local = local_worker(sidecar, chain, add_one, counter)
    local.start()
    try:
        ids = [in_process.schedule_new_orchestration(chain, input=5) for _ in range(3)]
        results = [in_process.wait_for_orchestration_completion(i, timeout=30) for i in ids]
    finally:
        local.stop()
    # three runs, each 5 steps; the entity counted them once each, in whatever order
    assert sorted(r.serialized_output for r in results if r) == ["[5, 1]", "[5, 2]", "[5, 3]"]


def test_errors_carry_the_grpc_status_codes(
    sidecar: SqliteSidecar, in_process: dt_client.TaskHubGrpcClient
) -> None:
    in_process.schedule_new_orchestration("nobody-serves-this", instance_id="taken")
    with pytest.raises(grpc.RpcError) as exists:
        in_process.schedule_new_orchestration("nobody-serves-this", instance_id="taken")
    assert exists.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert in_process.get_orchestration_state("never-started") is None
    with pytest.raises(TimeoutError):
        in_process.wait_for_orchestration_completion("taken", timeout=1)
    with pytest.raises(grpc.RpcError) as missing:
        in_process.raise_orchestration_event("never-started", "go")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_async_channel_serves_the_async_client(sidecar: SqliteSidecar) -> None:
    local = local_worker(sidecar, chain, add_one, counter)
    local.start()

    async def main() -> Any:
        channel = AsyncInProcessChannel(sidecar.servicer)
        c = dt_client.AsyncTaskHubGrpcClient(channel=channel, logger=QUIET)
        try:
            run_id = await c.schedule_new_orchestration(chain, input=2)
            state = await c.wait_for_orchestration_completion(run_id, timeout=30)
            assert await c.wait_for_orchestration_start("not-there", timeout=1) is None
            later = datetime.now(timezone.utc) + timedelta(hours=1)
            pending = await c.schedule_new_orchestration(waits, start_at=later)
            with pytest.raises(TimeoutError):
                await c.wait_for_orchestration_start(pending, timeout=1)
            history = await c.get_orchestration_history(run_id)
            return state, history
        finally:
            await channel.close()

    try:
        state, history = asyncio.run(main())
    finally:
        local.stop()
    assert state is not None and state.serialized_output == "[2, 1]"
    assert len(history) > 4


_started = threading.Event()
_release = threading.Event()
_runs: list[int] = []


def slow(ctx: task.ActivityContext, x: int) -> int:
    _runs.append(x)
    _started.set()
    assert _release.wait(30)
    return x * 10


def slow_orchestration(ctx: task.OrchestrationContext, x: int) -> Any:
    return (yield ctx.call_activity(slow, input=x))


def test_stop_lets_work_in_flight_finish_and_keeps_its_result(
    sidecar: SqliteSidecar, in_process: dt_client.TaskHubGrpcClient
) -> None:
    _started.clear(), _release.clear(), _runs.clear()
    local = local_worker(sidecar, slow_orchestration, slow)
    local.start()
    run_id = in_process.schedule_new_orchestration(slow_orchestration, input=4)
    assert _started.wait(30)
    stopper = threading.Thread(target=local.stop)
    stopper.start()
    time.sleep(0.3)
    assert stopper.is_alive()  # waits for the activity in flight
    _release.set()
    stopper.join(30)
    assert not stopper.is_alive()
    state = in_process.get_orchestration_state(run_id)
    assert state is not None and state.runtime_status.name == "RUNNING"  # no one took the rest
    remote = start_worker(sidecar.address, orchestrators=[slow_orchestration], activities=[slow])
    try:
        done = in_process.wait_for_orchestration_completion(run_id, timeout=30)
    finally:
        remote.stop()
    assert done is not None and done.serialized_output == "40"
    assert _runs == [4]  # the activity's result was kept, not run again


def test_closing_the_sidecar_ends_waits_at_once(tmp_path: Path) -> None:
    sidecar = SqliteSidecar(str(tmp_path / "w.db")).start()
    c = dt_client.TaskHubGrpcClient(channel=InProcessChannel(sidecar.servicer), logger=QUIET)
    run_id = c.schedule_new_orchestration(waits)
    outcome: list[Any] = []

    def wait() -> None:
        try:
            outcome.append(c.wait_for_orchestration_completion(run_id, timeout=60))
        except Exception as exc:  # the wait is refused once the engine is closed
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)
    started = time.monotonic()
    sidecar.stop()
    waiter.join(10)
    assert not waiter.is_alive()
    assert time.monotonic() - started < 2
    wait_until(lambda: bool(outcome))


def test_a_stock_worker_runs_over_the_in_process_channel(
    sidecar: SqliteSidecar, in_process: dt_client.TaskHubGrpcClient
) -> None:
    """durabletask's own stream loop works over `InProcessChannel` too, and stops cleanly."""
    worker = dt_worker.TaskHubGrpcWorker(
        channel=InProcessChannel(sidecar.servicer), logger=QUIET,
        resiliency_options=dt_worker.GrpcWorkerResiliencyOptions(
            silent_disconnect_timeout_seconds=0))
    worker.add_orchestrator(chain)
    worker.add_activity(add_one)
    worker.add_entity(counter, name="counter")
    worker.start()
    try:
        run_id = in_process.schedule_new_orchestration(chain, input=3)
        state = in_process.wait_for_orchestration_completion(run_id, timeout=30)
    finally:
        started = time.monotonic()
        worker.stop()
    assert state is not None and state.serialized_output == "[3, 1]"
    assert time.monotonic() - started < 5


def step_chain(ctx: task.OrchestrationContext, n: int) -> Any:
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(add_one, input=x)
    return x


def test_an_activity_result_is_saved_with_the_step_that_follows_it(
    sidecar: SqliteSidecar, in_process: dt_client.TaskHubGrpcClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer = sidecar.servicer.engine._store._writer
    commits: list[int] = []
    commit = writer._commit
    monkeypatch.setattr(writer, "_commit", lambda batch: commits.append(len(batch)) or commit(batch))
    local = local_worker(sidecar, add_one, threads=1)
    local.add_orchestrator(step_chain)
    local.start()
    try:
        instance = in_process.schedule_new_orchestration(step_chain, input=30)
        state = in_process.wait_for_orchestration_completion(instance, timeout=30)
    finally:
        local.stop()
    assert state is not None and state.serialized_output == "30"
    # one commit per step (the activity's result rides with the next orchestrator step),
    # where waiting for each result on its own would take two
    assert len(commits) <= 30 + 5, commits


def test_a_status_read_is_answered_on_the_loop_only_from_durable_state(
    sidecar: SqliteSidecar, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nothing waiting for its commit, `GetInstance` needs no pool thread; with a change
    staged but not yet durable, it goes to a pool thread and waits for that commit."""
    engine = sidecar.servicer.engine

    async def main() -> list[Any]:
        channel = AsyncInProcessChannel(sidecar.servicer)
        c = dt_client.AsyncTaskHubGrpcClient(channel=channel, logger=QUIET)
        try:
            run_id = await c.schedule_new_orchestration("nobody-serves-this", input=1)
            channel._pool.shutdown()  # from here on, a call that needs a thread fails
            inline = [await c.get_orchestration_state(run_id),
                      await c.get_orchestration_state("never-started")]
            monkeypatch.setattr(engine, "settled", lambda: False)
            with pytest.raises(RuntimeError, match="shutdown"):
                await c.get_orchestration_state(run_id)
            return inline
        finally:
            await channel.close()

    found, missing = asyncio.run(main())
    assert found is not None and found.name == "nobody-serves-this" and missing is None
