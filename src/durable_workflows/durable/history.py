"""A run's recorded Durable Task history as a JSON document (for replaying it against new code).

The document holds the history of the run's current generation (the orchestrator continues as
new every few supersteps, and a new generation starts from the state the last one left), the
graph hash the run was started with and, when the exporting client knows the workflow with that
hash, its plan, so a replay can say what changed in the graph.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DurableWorkflowsError
from ..graph.workflow import Workflow
from .names import orchestrator_name

FORMAT = "durable_workflows.history"
FORMAT_VERSION = 1


@dataclass
class RecordedHistory:
    """A loaded history document: the protobuf events and what the run was started with."""

    run_id: str
    workflow_name: str
    graph_hash: str
    plan: dict[str, Any] | None
    status: str
    events: list[Any]
    """``HistoryEvent`` protobuf messages, oldest first."""


def history_document(
    run_id: str,
    orchestrator: str,
    status: str,
    events: list[Any],
    workflow: Workflow | Iterable[Workflow] | None,
) -> dict[str, Any]:
    """The JSON document of a run's history (`events` are ``HistoryEvent`` protobufs).

    `workflow` is the exporting side's workflow of that name (or its versions): the plan of
    the one whose graph hash the run was started with goes in the document.
    """
    from google.protobuf import json_format

    started = _start_payload(events)
    graph_hash = str(started.get("graph_hash", "")) if started else ""
    known = [workflow] if isinstance(workflow, Workflow) else list(workflow or [])
    plan = next((w.plan.to_dict() for w in known if w.graph_hash == graph_hash), None)
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "run_id": run_id,
        "workflow": orchestrator.removeprefix(orchestrator_name("")),
        "graph_hash": graph_hash,
        "plan": plan,
        "status": status,
        "events": [json_format.MessageToDict(e) for e in events],
    }


def load_history(source: dict[str, Any] | str | os.PathLike[str]) -> RecordedHistory:
    """A history document from its data, a JSON string, or a file path."""
    from durabletask.internal import orchestrator_service_pb2 as pb
    from google.protobuf import json_format

    data: Any = source
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    elif isinstance(source, str):
        data = json.loads(source)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        msg = "not a run history: export one with `await client.export_history(run_id)`"
        raise DurableWorkflowsError(msg)
    if data.get("version") != FORMAT_VERSION:
        raise DurableWorkflowsError(f"history format version {data.get('version')} is not supported")
    try:
        events = [json_format.ParseDict(e, pb.HistoryEvent()) for e in data["events"]]
    except (json_format.ParseError, KeyError, TypeError) as exc:
        raise DurableWorkflowsError(f"the history's events cannot be read: {exc}") from exc
    return RecordedHistory(
        run_id=data["run_id"],
        workflow_name=data["workflow"],
        graph_hash=data["graph_hash"],
        plan=data.get("plan"),
        status=data.get("status", ""),
        events=events,
    )


def _start_payload(events: list[Any]) -> dict[str, Any] | None:
    """The orchestrator input of the generation (it carries the run's graph hash)."""
    for event in events:
        if event.HasField("executionStarted") and event.executionStarted.HasField("input"):
            payload = json.loads(event.executionStarted.input.value)
            return payload if isinstance(payload, dict) else None
    return None
