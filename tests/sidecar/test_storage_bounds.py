"""Bounded memory and storage: finished instances live only in the database, purges give
pages back to the file system, and a version-1 database is migrated."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from durabletask import client as dt_client
from durabletask import task

from durable_workflows.sidecar import SCHEMA_VERSION, SqliteSidecar
from durable_workflows.sidecar.core import RECENTLY_FINISHED
from durable_workflows.sidecar.schema import _V1

from .helpers import QUIET, start_worker

Status = dt_client.OrchestrationStatus


def add_one(ctx: task.ActivityContext, x: int) -> int:
    return x + 1


def one_step(ctx: task.OrchestrationContext, x: int) -> Any:
    return (yield ctx.call_activity(add_one, input=x))


def failing(ctx: task.OrchestrationContext, _: Any) -> Any:
    raise ValueError("boom")
    yield  # pragma: no cover - makes this a generator


def parent(ctx: task.OrchestrationContext, x: int) -> Any:
    return (yield ctx.call_sub_orchestrator(one_step, input=x))


def _run_all(address: str, ids: list[str], fn: Any = one_step) -> None:
    client = dt_client.TaskHubGrpcClient(host_address=address, logger=QUIET)
    try:
        for i, instance_id in enumerate(ids):
            client.schedule_new_orchestration(fn, input=i, instance_id=instance_id)
        for instance_id in ids:
            client.wait_for_orchestration_completion(instance_id, timeout=60)
    finally:
        client.close()


def _file_size(db: Path) -> int:
    return sum(os.path.getsize(p) for p in (db, Path(f"{db}-wal")) if p.exists())


def test_finished_instances_are_not_kept_in_memory(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    count = RECENTLY_FINISHED + 20
    ids = [f"run-{i}" for i in range(count)]
    with SqliteSidecar(str(db)) as sidecar:
        worker = start_worker(sidecar.address, orchestrators=[one_step, failing, parent],
                              activities=[add_one])
        try:
            _run_all(sidecar.address, ids)
            _run_all(sidecar.address, ["bad"], failing)
            engine: Any = sidecar._engine
            with engine.lock:
                assert engine.instances == {}
                assert len(engine._finished) == RECENTLY_FINISHED
            client = dt_client.TaskHubGrpcClient(host_address=sidecar.address, logger=QUIET)
            try:
                oldest = client.get_orchestration_state("run-0")  # only in the database
                assert oldest is not None and oldest.runtime_status == Status.COMPLETED
                assert oldest.serialized_output == "1"
                done = client.wait_for_orchestration_completion("run-1", timeout=5)
                assert done is not None and done.runtime_status == Status.COMPLETED
                listed = client.get_all_orchestration_states(dt_client.OrchestrationQuery(
                    runtime_status=[Status.COMPLETED], fetch_inputs_and_outputs=False))
                assert len(listed) == count
                # a failed instance that left memory can still be rewound and finish again
                client.raise_orchestration_event("run-0", "late")  # dropped, no error
                client.terminate_orchestration("run-0")  # already finished: no-op
                assert client.purge_orchestration("run-0").deleted_instance_count == 1
                assert client.get_orchestration_state("run-0") is None
                client.schedule_new_orchestration(parent, input=5, instance_id="parent")
                state = client.wait_for_orchestration_completion("parent", timeout=30)
                assert state is not None and state.serialized_output == "6"
                purged = client.purge_orchestration("parent", recursive=True)
                assert purged.deleted_instance_count == 2
            finally:
                client.close()
        finally:
            worker.stop()
    with SqliteSidecar(str(db)) as sidecar:  # a restart loads no finished instance
        engine = sidecar._engine
        assert engine is not None and engine.instances == {}
        with engine.lock:
            assert engine.lookup("run-1") is not None


def test_a_failed_instance_out_of_memory_can_be_rewound(tmp_path: Path) -> None:
    attempts: list[int] = []

    def flaky(ctx: task.ActivityContext, x: int) -> int:
        attempts.append(x)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return x

    def calls_flaky(ctx: task.OrchestrationContext, x: int) -> Any:
        return (yield ctx.call_activity(flaky, input=x))

    with SqliteSidecar(str(tmp_path / "s.db")) as sidecar:
        worker = start_worker(sidecar.address, orchestrators=[calls_flaky, one_step],
                              activities=[flaky, add_one])
        client = dt_client.TaskHubGrpcClient(host_address=sidecar.address, logger=QUIET)
        try:
            client.schedule_new_orchestration(calls_flaky, input=7, instance_id="flaky")
            state = client.wait_for_orchestration_completion("flaky", timeout=30)
            assert state is not None and state.runtime_status == Status.FAILED
            _run_all(sidecar.address, [f"push-{i}" for i in range(RECENTLY_FINISHED + 1)])
            engine: Any = sidecar._engine
            assert "flaky" not in engine._finished and "flaky" not in engine.instances
            client.rewind_orchestration("flaky", reason="retry")
            state = client.wait_for_orchestration_completion("flaky", timeout=30)
            assert state is not None and state.runtime_status == Status.COMPLETED
            assert state.serialized_output == "7"
        finally:
            client.close()
            worker.stop()


def test_purging_gives_pages_back_to_the_file_system(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    ids = [f"run-{i}" for i in range(300)]
    with SqliteSidecar(str(db)) as sidecar:
        worker = start_worker(sidecar.address, orchestrators=[one_step], activities=[add_one])
        try:
            _run_all(sidecar.address, ids)
        finally:
            worker.stop()
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages_before = conn.execute("PRAGMA page_count").fetchone()[0]
        client = dt_client.TaskHubGrpcClient(host_address=sidecar.address, logger=QUIET)
        try:
            result = client.purge_orchestrations_by(runtime_status=[Status.COMPLETED])
            assert result.deleted_instance_count == len(ids)
        finally:
            client.close()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages_after = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.close()
    assert pages_after < pages_before / 2


def test_a_version_1_database_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    for statement in _V1.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    with SqliteSidecar(str(db)) as sidecar:
        worker = start_worker(sidecar.address, orchestrators=[one_step], activities=[add_one])
        try:
            _run_all(sidecar.address, ["a", "b"])
            client = dt_client.TaskHubGrpcClient(host_address=sidecar.address, logger=QUIET)
            try:
                assert client.purge_orchestration("a").deleted_instance_count == 1
            finally:
                client.close()
        finally:
            worker.stop()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"instances_by_status", "instances_by_parent"} <= indexes
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0  # an old file reuses pages
    conn.close()
