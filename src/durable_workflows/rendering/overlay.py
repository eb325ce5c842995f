"""`RunOverlay`: the state of one run (what ran, how often, what failed or waits) for diagrams."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

NodeStatus = Literal["completed", "failed", "waiting", "running", "not-run"]

STATUSES: tuple[NodeStatus, ...] = ("completed", "failed", "waiting", "running", "not-run")
"""Every node status, in the order the legend lists them."""


@dataclass(frozen=True)
class NodeRun:
    """One node's state in a run: its latest status and how many times it ran (or asked)."""

    status: NodeStatus = "not-run"
    count: int = 0


@dataclass(frozen=True)
class RunOverlay:
    """Per node id, what happened in a run. Nodes not listed did not run.

    ```python
    overlay = RunOverlay.from_events(result.events)
    svg = render(workflow, "run.svg", overlay=overlay)
    ```
    """

    nodes: Mapping[str, NodeRun] = field(default_factory=dict)
    run_id: str | None = None
    status: str | None = None
    """The run's status (``completed``, ``failed``, ``waiting``, ``running``), if known."""

    def node(self, node_id: str) -> NodeRun:
        """The state of `node_id` (``not-run`` when it never ran)."""
        return self.nodes.get(node_id, NodeRun())

    @classmethod
    def from_events(cls, events: Iterable[object]) -> RunOverlay:
        """Replay a run's events (`WorkflowEvent`s, or objects with the same attributes)."""
        status: dict[str, NodeStatus] = {}
        counts: dict[str, int] = {}
        pending: dict[str, str] = {}  # request id -> port id
        run_id: str | None = None
        run_status = "running"
        for event in events:
            kind = getattr(event, "type", "")
            run_id = getattr(event, "run_id", None) or run_id
            node_id = (
                getattr(event, "executor_id", None)
                or getattr(event, "port_id", None)
                or getattr(event, "delay_id", None)
            )
            if kind == "executor_invoked" and node_id:
                status[node_id] = "running"
                counts[node_id] = counts.get(node_id, 0) + 1
            elif kind == "executor_completed" and node_id:
                status[node_id] = "completed"
            elif kind in ("executor_failed", "workflow_failed"):
                if kind == "workflow_failed":
                    run_status = "failed"
                if node_id:
                    status[node_id] = "failed"
            elif kind in ("waiting_for_input", "delay_started") and node_id:
                held = getattr(event, "request_id", None) or getattr(event, "timer_id", "")
                pending[str(held)] = node_id
                status[node_id] = "waiting"
                counts[node_id] = counts.get(node_id, 0) + 1
            elif kind in ("response_received", "request_timed_out", "delay_elapsed") and node_id:
                held = getattr(event, "request_id", None) or getattr(event, "timer_id", "")
                pending.pop(str(held), None)
                if node_id not in pending.values():
                    status[node_id] = "completed"
            elif kind == "workflow_completed":
                run_status = "completed"
        if run_status == "running" and pending:
            run_status = "waiting"
        nodes = {node_id: NodeRun(status[node_id], counts.get(node_id, 0)) for node_id in status}
        return cls(nodes, run_id, run_status)
