"""Sidecar-specific behaviour: persistence, leases, limits, schema, threads, pings."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from durabletask import client as dt_client
from durabletask import task
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from google.protobuf import wrappers_pb2

from durable_workflows.errors import DurableWorkflowsError
from durable_workflows.sidecar import (
    SCHEMA_VERSION,
    SchemaVersionError,
    SidecarError,
    SqliteSidecar,
)

from .helpers import QUIET, start_worker, wait_until

Status = dt_client.OrchestrationStatus


def add_one(ctx: task.ActivityContext, x: int) -> int:
    return x + 1


def chain(ctx: task.OrchestrationContext, n: int) -> Any:
    value = 0
    for _ in range(n):
        value = yield ctx.call_activity(add_one, input=value)
    return value


def timer_then_event(ctx: task.OrchestrationContext, _: Any) -> Any:
    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(seconds=2.5))
    got = yield ctx.wait_for_external_event("answer")
    return got


def echo_event(ctx: task.OrchestrationContext, _: Any) -> Any:
    return (yield ctx.wait_for_external_event("ping"))


def test_port_zero_reports_bound_port() -> None:
    with SqliteSidecar(":memory:", port=0) as sc:
        assert sc.port > 0
        assert sc.address == f"localhost:{sc.port}"
        with pytest.raises(SidecarError, match="could not bind"):
            SqliteSidecar(":memory:", port=sc.port).start()
    with pytest.raises(SidecarError, match="not running"):
        _ = sc.address


def test_memory_mode_runs_workflows() -> None:
    with SqliteSidecar(":memory:") as sc:
        w = start_worker(sc.address, orchestrators=[chain], activities=[add_one])
        try:
            c = dt_client.TaskHubGrpcClient(host_address=sc.address, logger=QUIET)
            iid = c.schedule_new_orchestration(chain, input=3)
            assert c.wait_for_orchestration_completion(iid, timeout=10).get_output() == 3
        finally:
            w.stop()


def test_newer_schema_is_rejected(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    SqliteSidecar(str(db)).start().stop()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaVersionError, match=r"newer|upgrade") as info:
        SqliteSidecar(str(db)).start()
    assert isinstance(info.value, DurableWorkflowsError)


def test_foreign_database_is_rejected(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(SidecarError, match="not a durable_workflows sidecar database"):
        SqliteSidecar(str(db)).start()


def test_state_survives_restart(tmp_path: Path) -> None:
    """A pending timer and an awaited event survive a clean restart on the same file."""
    db = str(tmp_path / "restart.db")
    with SqliteSidecar(db) as sc:
        port = sc.port
        w = start_worker(sc.address, orchestrators=[timer_then_event])
        c = dt_client.TaskHubGrpcClient(host_address=sc.address, logger=QUIET)
        iid = c.schedule_new_orchestration(timer_then_event, instance_id="survivor")
        wait_until(lambda: any(type(e).__name__ == "TimerCreatedEvent"
                               for e in c.get_orchestration_history(iid)), timeout=10)
        w.stop()
    with SqliteSidecar(db, port=port) as sc:
        w = start_worker(sc.address, orchestrators=[timer_then_event])
        try:
            c = dt_client.TaskHubGrpcClient(host_address=sc.address, logger=QUIET)
            assert not any(type(e).__name__ == "TimerFiredEvent"
                           for e in c.get_orchestration_history(iid))
            wait_until(lambda: any(type(e).__name__ == "TimerFiredEvent"
                                   for e in c.get_orchestration_history(iid)), timeout=10)
            c.raise_orchestration_event(iid, "answer", data=42)
            state = c.wait_for_orchestration_completion(iid, timeout=10)
            assert state.runtime_status == Status.COMPLETED and state.get_output() == 42
        finally:
            w.stop()


def test_history_limit_fails_instance(tmp_path: Path) -> None:
    with SqliteSidecar(str(tmp_path / "limit.db"), max_history=40) as sc:
        w = start_worker(sc.address, orchestrators=[chain], activities=[add_one])
        try:
            c = dt_client.TaskHubGrpcClient(host_address=sc.address, logger=QUIET)
            iid = c.schedule_new_orchestration(chain, input=100)
            state = c.wait_for_orchestration_completion(iid, timeout=20)
            assert state.runtime_status == Status.FAILED
            assert state.failure_details.error_type == "HistoryLimitExceeded"
            assert "limit of 40" in state.failure_details.message
            ok = c.schedule_new_orchestration(chain, input=2)
            assert c.wait_for_orchestration_completion(ok, timeout=10).get_output() == 2
        finally:
            w.stop()


def test_many_blocking_waits_do_not_starve(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[echo_event])
    ids = [client.schedule_new_orchestration(echo_event) for _ in range(40)]
    with ThreadPoolExecutor(40) as pool:
        waits = [pool.submit(client.wait_for_orchestration_completion, i, timeout=30)
                 for i in ids]
        time.sleep(0.3)
        started = time.monotonic()
        for i in ids:
            client.raise_orchestration_event(i, "ping", data=i)
        states = [f.result() for f in waits]
    assert [s.get_output() for s in states] == ids
    assert time.monotonic() - started < 10


def _stub(address: str) -> tuple[grpc.Channel, Any]:
    channel = grpc.insecure_channel(address)
    return channel, stubs.TaskHubSidecarServiceStub(channel)


def _next_real_item(stream: Any) -> Any:
    for item in stream:
        if not item.HasField("healthPing"):
            return item
    raise AssertionError("stream ended")


def test_health_pings_reach_idle_workers() -> None:
    with SqliteSidecar(":memory:", ping_interval=0.2) as sc:
        channel, stub = _stub(sc.address)
        stream = stub.GetWorkItems(pb.GetWorkItemsRequest())
        t0 = time.monotonic()
        item = next(iter(stream))
        assert item.HasField("healthPing")
        assert time.monotonic() - t0 < 2
        stream.cancel()
        channel.close()


def slow_activity(ctx: task.ActivityContext, x: int) -> int:
    return x * 10


def one_activity(ctx: task.OrchestrationContext, x: int) -> Any:
    return (yield ctx.call_activity(slow_activity, input=x))


def _hold_activity(address: str, client: Any) -> tuple[grpc.Channel, Any, Any, str]:
    """Start ``one_activity`` and let a fake worker take the orchestration step and activity."""
    channel, stub = _stub(address)
    stream = stub.GetWorkItems(pb.GetWorkItemsRequest())
    iid = client.schedule_new_orchestration(one_activity, input=4)
    orch = _next_real_item(stream)
    assert orch.HasField("orchestratorRequest")
    stub.CompleteOrchestratorTask(pb.OrchestratorResponse(
        instanceId=iid, completionToken=orch.completionToken,
        actions=[pb.OrchestratorAction(id=1, scheduleTask=pb.ScheduleTaskAction(
            name="slow_activity", input=wrappers_pb2.StringValue(value="4")))]))
    act = _next_real_item(stream)
    assert act.HasField("activityRequest")
    return channel, stream, act, iid


def test_expired_lease_is_redelivered() -> None:
    with SqliteSidecar(":memory:", lease_seconds=1.0) as sc:
        c = dt_client.TaskHubGrpcClient(host_address=sc.address, logger=QUIET)
        channel, stream, _, iid = _hold_activity(sc.address, c)
        t0 = time.monotonic()
        w = start_worker(sc.address, orchestrators=[one_activity], activities=[slow_activity])
        try:
            state = c.wait_for_orchestration_completion(iid, timeout=15)
            assert state.get_output() == 40
            assert time.monotonic() - t0 >= 0.5
        finally:
            w.stop()
            stream.cancel()
            channel.close()


def test_disconnected_worker_items_are_redelivered_and_stale_results_ignored() -> None:
    with SqliteSidecar(":memory:", lease_seconds=300) as sc:
        c = dt_client.TaskHubGrpcClient(host_address=sc.address, logger=QUIET)
        channel, stream, act, iid = _hold_activity(sc.address, c)
        stream.cancel()
        w = start_worker(sc.address, orchestrators=[one_activity], activities=[slow_activity])
        try:
            state = c.wait_for_orchestration_completion(iid, timeout=15)
            assert state.get_output() == 40
            _, stub = _stub(sc.address)
            stub.CompleteActivityTask(pb.ActivityResponse(
                instanceId=iid, taskId=act.activityRequest.taskId,
                completionToken=act.completionToken,
                result=wrappers_pb2.StringValue(value="999")))
            completed = [e for e in c.get_orchestration_history(iid)
                         if type(e).__name__ == "TaskCompletedEvent"]
            assert len(completed) == 1
        finally:
            w.stop()
            channel.close()


def test_azuremanaged_client_and_worker(sidecar: SqliteSidecar) -> None:
    from durabletask.azuremanaged.client import DurableTaskSchedulerClient
    from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker

    w = DurableTaskSchedulerWorker(host_address=sidecar.address, taskhub="default",
                                   token_credential=None, secure_channel=False, logger=QUIET)
    w.add_orchestrator(chain)
    w.add_activity(add_one)
    w.start()
    try:
        c = DurableTaskSchedulerClient(host_address=sidecar.address, taskhub="default",
                                       token_credential=None, secure_channel=False,
                                       logger=QUIET)
        iid = c.schedule_new_orchestration(chain, input=4)
        assert c.wait_for_orchestration_completion(iid, timeout=10).get_output() == 4
    finally:
        w.stop()


def test_cli_rejects_newer_schema(tmp_path: Path, capsys: Any) -> None:
    from durable_workflows.sidecar.__main__ import main

    db = tmp_path / "future.db"
    SqliteSidecar(str(db)).start().stop()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    assert main(["--db", str(db), "--port", "0"]) == 2
    assert "upgrade durable_workflows" in capsys.readouterr().err


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "durable_workflows.sidecar", "--db",
         str(tmp_path / "cli.db"), "--port", "0", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        address = line.split()[3]
        assert address.startswith("localhost:") and not address.endswith(":0")
        c = dt_client.TaskHubGrpcClient(host_address=address, logger=QUIET)
        assert c.get_orchestration_state("missing") is None
        c.close()
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_one_sidecar_per_database(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    with SqliteSidecar(db), pytest.raises(SidecarError, match="in use by another sidecar"):
        SqliteSidecar(db).start()
    SqliteSidecar(db).start().stop()


def long_loop(ctx: task.OrchestrationContext, state: list[int]) -> Any:
    done, total = state
    for _ in range(5):
        yield ctx.call_activity(add_one, input=0)
        done += 1
    if done < total:
        ctx.continue_as_new([done, total])
        return None
    return done


def test_continue_as_new_near_history_limit(tmp_path: Path) -> None:
    """Each execution stays under the limit, so continue-as-new keeps the run alive."""
    with SqliteSidecar(str(tmp_path / "can.db"), max_history=25) as sc:
        w = start_worker(sc.address, orchestrators=[long_loop], activities=[add_one])
        try:
            c = dt_client.TaskHubGrpcClient(host_address=sc.address, logger=QUIET)
            iid = c.schedule_new_orchestration(long_loop, input=[0, 20])
            state = c.wait_for_orchestration_completion(iid, timeout=20)
            assert state.runtime_status == Status.COMPLETED, state.failure_details
            assert state.get_output() == 20
        finally:
            w.stop()


def test_stream_limits_are_respected() -> None:
    """A worker declaring one concurrent activity gets the next only after completing one."""
    with SqliteSidecar(":memory:") as sc:
        channel, stub = _stub(sc.address)
        c = dt_client.TaskHubGrpcClient(host_address=sc.address, logger=QUIET)
        stream = stub.GetWorkItems(pb.GetWorkItemsRequest(maxConcurrentActivityWorkItems=1,
                                                          maxConcurrentOrchestrationWorkItems=1))
        iid = c.schedule_new_orchestration("fan")
        orch = _next_real_item(stream)
        stub.CompleteOrchestratorTask(pb.OrchestratorResponse(
            instanceId=iid, completionToken=orch.completionToken,
            actions=[pb.OrchestratorAction(id=i, scheduleTask=pb.ScheduleTaskAction(
                name="add_one")) for i in (1, 2)]))
        first = _next_real_item(stream)
        assert first.HasField("activityRequest")
        got: list[Any] = []
        reader = threading.Thread(target=lambda: got.append(_next_real_item(stream)))
        reader.start()
        reader.join(0.5)
        assert not got  # at its limit: nothing more is sent
        stub.CompleteActivityTask(pb.ActivityResponse(
            instanceId=iid, taskId=first.activityRequest.taskId,
            completionToken=first.completionToken))
        reader.join(5)
        assert got and got[0].WhichOneof("request") in {"activityRequest", "orchestratorRequest"}
        stream.cancel()
        channel.close()


def test_unappliable_step_fails_instance_instead_of_looping() -> None:
    with SqliteSidecar(":memory:") as sc:
        channel, stub = _stub(sc.address)
        c = dt_client.TaskHubGrpcClient(host_address=sc.address, logger=QUIET)
        stream = stub.GetWorkItems(pb.GetWorkItemsRequest())
        iid = c.schedule_new_orchestration("broken")
        orch = _next_real_item(stream)
        stub.CompleteOrchestratorTask(pb.OrchestratorResponse(
            instanceId=iid, completionToken=orch.completionToken,
            actions=[pb.OrchestratorAction(id=1, sendEntityMessage=pb.SendEntityMessageAction())]))
        state = c.get_orchestration_state(iid)
        assert state.runtime_status == Status.FAILED
        assert "could not apply an orchestrator step" in state.failure_details.message
        stream.cancel()
        channel.close()


def test_abandoned_activity_is_redelivered() -> None:
    with SqliteSidecar(":memory:") as sc:
        c = dt_client.TaskHubGrpcClient(host_address=sc.address, logger=QUIET)
        channel, stream, act, _ = _hold_activity(sc.address, c)
        _, stub = _stub(sc.address)
        t0 = time.monotonic()
        stub.AbandonTaskActivityWorkItem(
            pb.AbandonActivityTaskRequest(completionToken=act.completionToken))
        again = _next_real_item(stream)
        assert again.activityRequest.taskId == act.activityRequest.taskId
        assert 0.5 <= time.monotonic() - t0 < 5
        stream.cancel()
        channel.close()


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "garbage.db"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SidecarError, match="cannot open database"):
        SqliteSidecar(str(db)).start()


def test_timed_out_waits_leave_no_waiters() -> None:
    """A wait that times out unregisters itself; waiters on an idle id must not pile up."""
    with SqliteSidecar(":memory:") as sc:
        engine = sc._engine
        assert engine is not None
        for _ in range(3):
            assert engine.wait_for("missing", lambda _: True, 0.05, lambda: True) is None
        assert not engine._waiters.get("missing")
