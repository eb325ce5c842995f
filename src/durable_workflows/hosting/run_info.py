"""What the client says about runs without following them: run states, summaries, listing.

Durable Task statuses are mapped onto six run states that a person reads:
``pending`` (scheduled, not started), ``running``, ``waiting`` (running, with requests waiting
for a response), ``completed``, ``failed`` and ``cancelled`` (terminated).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, get_args

from ..durable.names import AGENT_TURN_ORCHESTRATOR, orchestrator_name
from ..errors import DurableWorkflowsError

RunState = Literal["pending", "running", "waiting", "completed", "failed", "cancelled"]
RUN_STATES: tuple[RunState, ...] = get_args(RunState)
TERMINAL_STATES: frozenset[RunState] = frozenset({"completed", "failed", "cancelled"})

_ORCHESTRATOR_PREFIX = orchestrator_name("")
_RUNTIME_STATUSES: dict[RunState, tuple[str, ...]] = {
    "pending": ("PENDING",),
    "running": ("RUNNING", "CONTINUED_AS_NEW", "SUSPENDED"),
    "waiting": ("RUNNING", "CONTINUED_AS_NEW", "SUSPENDED"),
    "completed": ("COMPLETED",),
    "failed": ("FAILED",),
    "cancelled": ("TERMINATED",),
}
_ERROR_TYPE = re.compile(r"^([A-Za-z_][\w.]*): (.*)$", re.DOTALL)


def run_state(runtime_status: str, waiting: bool) -> RunState:
    """The run state of a Durable Task status name (``RUNNING``...); `waiting`: has requests."""
    if runtime_status == "COMPLETED":
        return "completed"
    if runtime_status == "FAILED":
        return "failed"
    if runtime_status == "TERMINATED":
        return "cancelled"
    if runtime_status == "PENDING":
        return "pending"
    return "waiting" if waiting else "running"


@dataclass(frozen=True)
class RunFailure:
    """Why a run failed: the error type, its message and the failing executor (if one)."""

    type: str
    message: str
    executor_id: str | None = None


def parse_failure(error: str) -> RunFailure:
    """A `RunFailure` from a failed run's message (``executor 'X' failed: Type: message``)."""
    executor_id, rest = split_failure(error)
    match = _ERROR_TYPE.match(rest)
    if match is None:
        return RunFailure("WorkflowFailedError", rest, executor_id)
    error_type = match.group(1).removeprefix("builtins.")
    return RunFailure(error_type, match.group(2), executor_id)


def split_failure(error: str) -> tuple[str | None, str]:
    """(failing executor, rest of the message) from the orchestrator's failure message."""
    prefix = "executor '"
    if error.startswith(prefix) and "' failed: " in error:
        executor_id, rest = error[len(prefix) :].split("' failed: ", 1)
        return executor_id, rest
    return None, error


@dataclass(frozen=True)
class RunSummary:
    """One run as `WorkflowClient.list_runs()` lists it."""

    run_id: str
    workflow: str
    status: RunState
    created_at: datetime
    """When the run was started (UTC)."""
    updated_at: datetime
    """When the run last changed (for a finished run: when it ended)."""
    superstep: int = 0
    pending_requests: int = 0
    """How many requests wait for a response."""
    streamed: bool = False
    """Whether the run records its events (started with `stream()`), so they can be read."""
    version: str | None = None
    """The workflow version the run is pinned to (None until its first step)."""


def summarize(state: Any) -> RunSummary | None:
    """The summary of a durabletask `OrchestrationState`; None if it is not a workflow run (or
    is the child run of a sub-workflow)."""
    name: str = state.name
    if not name.startswith(_ORCHESTRATOR_PREFIX) or name == AGENT_TURN_ORCHESTRATOR:
        return None
    custom = _json_object(state.serialized_custom_status)
    if custom.get("parent"):
        return None  # a sub-workflow's child run: part of its parent run (W2)
    requests = custom.get("requests") or []
    status = run_state(state.runtime_status.name, bool(requests))
    return RunSummary(
        run_id=state.instance_id,
        workflow=name[len(_ORCHESTRATOR_PREFIX) :],
        status=status,
        created_at=utc(state.created_at),
        updated_at=utc(state.last_updated_at),
        superstep=int(custom.get("superstep", 0)),
        pending_requests=0 if status in TERMINAL_STATES else len(requests),  # P2
        streamed=bool(custom.get("stream", False)),
        version=custom.get("version"),
    )


async def list_runs(
    durable_client: Any,
    *,
    workflow: str | None = None,
    status: RunState | Iterable[RunState] | None = None,
    created_after: datetime | None = None,
    limit: int = 100,
) -> list[RunSummary]:
    """Runs, newest first, filtered by workflow name, run state(s) and start time."""
    from durabletask.client import OrchestrationQuery, OrchestrationStatus

    wanted = _states(status)
    if limit < 1:
        raise DurableWorkflowsError(f"limit must be at least 1, not {limit!r}")
    runtime = sorted({s for state in wanted for s in _RUNTIME_STATUSES[state]})
    query = OrchestrationQuery(
        created_time_from=None if created_after is None else utc(created_after),
        runtime_status=[OrchestrationStatus[s] for s in runtime] if wanted else None,
        fetch_inputs_and_outputs=False,
    )
    found = [summarize(s) for s in await durable_client.get_all_orchestration_states(query)]
    runs = [
        run
        for run in found
        if run is not None
        and (workflow is None or run.workflow == workflow)
        and (not wanted or run.status in wanted)
        and (created_after is None or run.created_at > utc(created_after))
    ]
    runs.sort(key=lambda r: (r.created_at, r.run_id), reverse=True)
    return runs[:limit]


def _states(status: RunState | Iterable[RunState] | None) -> frozenset[RunState]:
    if status is None:
        return frozenset()
    given = [status] if isinstance(status, str) else list(status)
    unknown = [s for s in given if s not in RUN_STATES]
    if unknown:
        msg = f"unknown run status {unknown[0]!r}; use one of {', '.join(RUN_STATES)}"
        raise DurableWorkflowsError(msg)
    return frozenset(given)


def utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (a naive one is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _json_object(text: str | None) -> dict[str, Any]:
    data = json.loads(text) if text else {}
    return data if isinstance(data, dict) else {}
