"""Failed commits: the writer rolls back, the engine reloads from the database and recovers."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import grpc
import pytest
from durabletask import client as dt_client
from durabletask import task
from durabletask.entities import EntityContext, EntityInstanceId

from durable_workflows.sidecar import SqliteSidecar
from durable_workflows.sidecar.writer import Writer

from .helpers import QUIET, start_worker, wait_until

Status = dt_client.OrchestrationStatus


def double(ctx: task.ActivityContext, x: int) -> int:
    return 2 * x


def tally(ctx: EntityContext, amount: int) -> int:
    total = ctx.get_state(int, 0) + amount
    ctx.set_state(total)
    return total


def pipeline(ctx: task.OrchestrationContext, n: int) -> Any:
    yield ctx.call_entity(EntityInstanceId("tally", str(n % 4)), "add", input=1)
    first = yield ctx.call_activity(double, input=n)
    parts = yield task.when_all([ctx.call_activity(double, input=first + i) for i in range(3)])
    return sum(parts)


@pytest.mark.slow
def test_random_transaction_failures_are_recovered(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    original = Writer._apply
    failures = 0

    def flaky_apply(self: Writer, ops: list[Any]) -> None:
        nonlocal failures
        if ops and rng.random() < 0.05:
            failures += 1
            raise sqlite3.OperationalError("injected failure")
        original(self, ops)

    monkeypatch.setattr(Writer, "_apply", flaky_apply)
    with SqliteSidecar(str(tmp_path / "faults.db"), lease_seconds=2) as sc:
        w = start_worker(sc.address, orchestrators=[pipeline], activities=[double],
                         entities=[tally])
        c = dt_client.TaskHubGrpcClient(host_address=sc.address, logger=QUIET)
        try:
            ids = [f"f-{i}" for i in range(40)]
            for n, iid in enumerate(ids):
                while True:
                    try:
                        c.schedule_new_orchestration(pipeline, input=n, instance_id=iid)
                        break
                    except grpc.RpcError as exc:
                        if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                            break
                        assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc

            def finished() -> bool:
                try:
                    states = c.get_all_orchestration_states(
                        dt_client.OrchestrationQuery(fetch_inputs_and_outputs=True))
                except grpc.RpcError as exc:  # a change failed while we read: read again
                    assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
                    return False
                return len(states) == len(ids) and all(s.runtime_status == Status.COMPLETED
                                                       for s in states)

            wait_until(finished, timeout=120, interval=0.5)
            for n, iid in enumerate(ids):
                state = c.get_orchestration_state(iid)
                assert state.get_output() == sum(2 * (2 * n + i) for i in range(3))
            totals = [c.get_entity(EntityInstanceId("tally", str(k))).get_state(int)
                      for k in range(4)]
            assert totals == [10, 10, 10, 10]  # each operation applied exactly once
            assert failures > 5
        finally:
            w.stop()
            c.close()
