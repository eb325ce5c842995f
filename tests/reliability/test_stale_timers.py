"""Issue 10, defect 4: continue-as-new must not carry the old execution's work into the new one.

durabletask matches TimerFired and TaskCompleted events by id, and ids restart at every
execution. An old timer or activity result that reached the inbox while the step that
continued-as-new was running must be dropped, or it completes whatever task of the new
execution has the same id. Raised events are the only events that carry over.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from durabletask import client as dt_client
from durabletask import task
from durabletask import worker as dt_worker

from durable_workflows.sidecar import SqliteSidecar

from ._size_helpers import QUIET, wait_until

_STEP_SLEEP = 1.5
"""How long the step that continues-as-new runs: the old timer or activity ends meanwhile."""


def _quick(ctx: Any, _: Any) -> str:
    return "quick"


def _slowish(ctx: Any, seconds: float) -> str:
    time.sleep(seconds)
    return "old-activity"


def _fresh(ctx: Any, _: Any) -> str:
    time.sleep(3)
    return "new-activity"


def _crossing(ctx: task.OrchestrationContext, generation: int) -> Any:
    """Generation 0 leaves a timer or activity running into a slow continue-as-new step;
    generation 1's first task gets the same id and must not be completed by it."""
    if generation in (0, 10):
        if generation == 0:
            ctx.create_timer(ctx.current_utc_datetime + timedelta(seconds=0.8))
        else:
            ctx.call_activity(_slowish, input=0.8)
        yield ctx.call_activity(_quick)
        if not ctx.is_replaying:
            time.sleep(_STEP_SLEEP)  # the old task finishes while this step is leased
        ctx.continue_as_new(generation + 1, save_events=True)
        return None
    if generation == 1:
        timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(seconds=30))
        go = ctx.wait_for_external_event("go")
        winner = yield task.when_any([timer, go])
        return "timer" if winner is timer else "event"
    return (yield ctx.call_activity(_fresh))


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[SqliteSidecar]:
    with SqliteSidecar(str(tmp_path / "stale.db")) as running:
        yield running


@pytest.mark.parametrize(
    ("first_generation", "expected"),
    [(0, "event"), (10, "new-activity")],
    ids=["timer-fired", "task-completed"],
)
def test_old_execution_events_do_not_complete_new_tasks(
    sidecar: SqliteSidecar, first_generation: int, expected: str
) -> None:
    worker = dt_worker.TaskHubGrpcWorker(host_address=sidecar.address, logger=QUIET)
    worker.add_orchestrator(_crossing)
    for activity in (_quick, _slowish, _fresh):
        worker.add_activity(activity)
    worker.start()
    client = dt_client.TaskHubGrpcClient(host_address=sidecar.address, logger=QUIET)
    try:
        run_id = client.schedule_new_orchestration(_crossing, input=first_generation)

        def next_generation_started() -> bool:
            state = client.get_orchestration_state(run_id)
            return state is not None and state.serialized_input != str(first_generation)

        wait_until(next_generation_started, timeout=15)
        time.sleep(0.5)  # a stale event would complete the new task within this time
        client.raise_orchestration_event(run_id, "go")
        state = client.wait_for_orchestration_completion(run_id, timeout=30)
        assert state is not None
        assert state.runtime_status == dt_client.OrchestrationStatus.COMPLETED
        assert state.serialized_output == f'"{expected}"'
    finally:
        client.close()
        worker.stop()
