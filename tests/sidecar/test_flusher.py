"""`Flusher`: deferred activity results are committed in groups, within a bound."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from durabletask import client as dt_client
from durabletask import task

from durable_workflows.sidecar import SqliteSidecar
from durable_workflows.sidecar.flusher import Flusher
from durable_workflows.sidecar.writer import TransactionFailedError

from .helpers import QUIET
from .test_local_worker import add_one, local_worker


class Engine:
    """Counts `sync` calls (the seam the flusher commits through)."""

    def __init__(self, fail: bool = False) -> None:
        self.syncs: list[float] = []
        self.fail = fail
        self.synced = threading.Event()

    def sync(self) -> None:
        self.syncs.append(time.monotonic())
        self.synced.set()
        if self.fail:
            raise TransactionFailedError("disk full")


def test_deferred_changes_are_committed_once_within_the_delay() -> None:
    engine = Engine()
    flusher = Flusher(engine, delay=0.05)
    try:
        started = time.monotonic()
        for _ in range(20):
            flusher.defer()
        assert engine.synced.wait(5)
        assert engine.syncs[0] - started >= 0.04
        time.sleep(0.15)
        assert len(engine.syncs) == 1, "one commit for the twenty"
    finally:
        flusher.stop()
    assert len(engine.syncs) == 2, "stop commits what may be pending"


def test_a_failed_commit_is_logged_and_the_flusher_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine(fail=True)
    flusher = Flusher(engine, delay=0.01)
    try:
        flusher.defer()
        assert engine.synced.wait(5)
        engine.synced.clear()
        flusher.defer()
        assert engine.synced.wait(5)
    finally:
        flusher.stop()
    assert "will run again" in caplog.text


def fan(ctx: task.OrchestrationContext, n: int) -> Any:
    results = yield task.when_all([ctx.call_activity(add_one, input=i) for i in range(n)])
    return sum(results)


def test_a_fan_out_commits_its_results_in_groups(
    sidecar: SqliteSidecar, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = sidecar.servicer.engine._store._writer
    commits: list[int] = []
    commit = writer._commit
    monkeypatch.setattr(writer, "_commit", lambda batch: commits.append(len(batch)) or commit(batch))
    local = local_worker(sidecar, add_one, threads=2)
    local.add_orchestrator(fan)
    client = dt_client.TaskHubGrpcClient(host_address=sidecar.address, logger=QUIET)
    local.start()
    try:
        instance = client.schedule_new_orchestration(fan, input=100)
        state = client.wait_for_orchestration_completion(instance, timeout=30)
    finally:
        local.stop()
        client.close()
    assert state is not None and state.serialized_output == str(sum(range(1, 101)))
    assert len(commits) < 60, f"{len(commits)} commits for 100 results"
