"""How a sub-workflow's child run shows on its parent (docs/semantics.md W2-W5), for both
drivers: the child run's ids, its events with path-qualified ids, its failures."""

from __future__ import annotations

import dataclasses

from ..errors import ExecutorFailedError
from .events import WorkflowEvent

NOT_REPEATED = ("workflow_started", "workflow_completed", "workflow_failed", "executor_failed")
"""Child events the parent does not repeat: its own events about the node stand for them."""

_NODE_FIELDS = ("executor_id", "port_id", "delay_id")
_HELD_FIELDS = ("request_id", "timer_id")


def invocation_key(node_id: str, superstep: int, branch: int) -> str:
    """The child run of one invocation of a sub-workflow node: ``"{node}:{superstep}:{branch}"``."""
    return f"{node_id}:{superstep}:{branch}"


def child_run_id(parent_run_id: str, key: str) -> str:
    """The deterministic id of a child run (durably, its sub-orchestration's instance id)."""
    return f"{parent_run_id}~{key}"


def qualified(event: WorkflowEvent, node_id: str, key: str) -> WorkflowEvent | None:
    """A child run's event as the parent streams it (None: not repeated): node ids prefixed
    with the node's path, request and timer ids with the invocation key."""
    if event.type in NOT_REPEATED:
        return None
    changes: dict[str, str] = {}
    for name in _NODE_FIELDS:
        value = getattr(event, name, None)
        if value:
            changes[name] = f"{node_id}/{value}"
    for name in _HELD_FIELDS:
        value = getattr(event, name, None)
        if value:
            changes[name] = f"{key}/{value}"
    refused = getattr(event, "event_name", None)
    if refused:
        changes["event_name"] = f"{key}/{refused}" if ":" in refused else f"{node_id}/{refused}"
    copy = dataclasses.replace(event)
    for field_name, value in changes.items():
        setattr(copy, field_name, value)
    return copy


def child_failure(node_id: str, superstep: int, failure: ExecutorFailedError) -> ExecutorFailedError:
    """The parent's failure for a child run that failed: it names the path of the node."""
    return ExecutorFailedError(
        f"{node_id}/{failure.executor_id}", failure.error, failure.error_type, superstep
    )
