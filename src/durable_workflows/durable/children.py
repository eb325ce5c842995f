"""Sub-workflow child runs as sub-orchestrations (docs/semantics.md W1-W5).

The parent starts one sub-orchestration per sub-workflow invocation, with a deterministic
instance id. The child reports to its parent with an event on a channel of its own: its new
events (when the parent streams) and its open requests, each time it publishes. The parent
emits the events with path-qualified ids, lists the requests in its status (with the instance
that owns each, so a client answers it there), and takes the child's outputs as the node's
messages when the sub-orchestration completes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ExecutorFailedError
from ..graph.subworkflow import SubWorkflow
from ..graph.workflow import Workflow
from ..model.context import InvocationResult, SentMessage
from ..runtime.events import WorkflowEvent, event_from_dict
from ..runtime.state import Invocation
from ..runtime.subruns import child_run_id, invocation_key, qualified
from .names import orchestrator_name
from .seam import OrchestrationSeam

CHANNEL = "~child~"
"""Prefix of the event a child run reports on (``~`` is in no node, port or request id)."""


@dataclass
class _Child:
    node: SubWorkflow
    key: str
    instance_id: str
    task: Any
    wait: Any = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    seen: int = 0
    """The child's last event sequence received."""
    held: list[WorkflowEvent] = field(default_factory=list)
    """Its events received but not emitted yet (an earlier child run has not ended)."""


class ChildRuns:
    """The child runs of one superstep, for one orchestrator episode."""

    def __init__(
        self,
        seam: OrchestrationSeam,
        stream: bool,
        start_payload: Callable[[Workflow, Any, bool], dict[str, Any]],
    ) -> None:
        self.seam = seam
        self.stream = stream
        self.start_payload = start_payload
        """The orchestrator input of a new run (of `workflow`, on an input envelope)."""
        self.running: dict[str, _Child] = {}

    def start(self, node: SubWorkflow, invocation: Invocation, superstep: int) -> Any:
        """Start the child run of a sub-workflow invocation; returns its task."""
        child = node.workflow
        key = invocation_key(node.id, superstep, invocation.branch)
        instance_id = child_run_id(self.seam.instance_id, key)
        envelope = child.registry.encode(invocation.message, child.input_types)
        payload = self.start_payload(child, envelope, self.stream)
        payload["parent"] = {"instance_id": self.seam.instance_id, "channel": CHANNEL + key}
        task = self.seam.call_sub_orchestrator(
            orchestrator_name(child.name), payload, instance_id=instance_id
        )
        self.running[key] = _Child(node, key, instance_id, task)
        return task

    def watch(self) -> list[Any]:
        """A wait on the report channel of every child run still running."""
        for child in self.running.values():
            if child.wait is None and not self.seam.is_complete(child.task):
                child.wait = self.seam.wait_for_event(CHANNEL + child.key)
        return [c.wait for c in self.running.values() if c.wait is not None]

    def take(self) -> list[WorkflowEvent]:
        """Read the reports that arrived; returns the children's events that can be emitted
        now, qualified: in invocation order, a child's only once every earlier child run
        has ended (W3)."""
        for child in self.running.values():
            if child.wait is None or not self.seam.is_complete(child.wait):
                continue
            raw = self.seam.result(child.wait)
            child.wait = None
            report = json.loads(raw) if isinstance(raw, str) else raw
            node, key = child.node, child.key
            for data in report.get("events", ()):
                event = event_from_dict(data, node.workflow.registry)
                child.seen = max(child.seen, event.sequence)
                shown = qualified(event, node.id, key)
                child.held += [] if shown is None else [shown]
            child.requests = [
                {
                    **entry,
                    "request_id": f"{key}/{entry['request_id']}",
                    "port_id": f"{node.id}/{entry['port_id']}",
                    "instance_id": entry.get("instance_id", child.instance_id),
                    "inner_id": entry.get("inner_id", entry["request_id"]),
                }
                for entry in report.get("requests", ())
            ]
        events: list[WorkflowEvent] = []
        for child in self.running.values():
            events += child.held
            child.held = []
            if not self._ended(child):
                break
        return events

    def _ended(self, child: _Child) -> bool:
        """Whether a child run completed and all its events arrived."""
        task = child.task
        if not self.seam.is_complete(task) or self.seam.failure(task) is not None:
            return False
        return not self.stream or child.seen >= int(self.seam.result(task).get("sequence", 0))

    def behind(self) -> list[Any]:
        """For a streamed run: waits on the children that completed before all their events
        arrived (their last report is on its way)."""
        waits = []
        for child in self.running.values():
            task = child.task
            if self.seam.failure(task) is not None or self._ended(child):
                continue
            if child.wait is None:
                child.wait = self.seam.wait_for_event(CHANNEL + child.key)
            waits.append(child.wait)
        return waits

    def requests(self) -> list[dict[str, Any]]:
        """The open requests of the running children, as the parent lists them (W4)."""
        return [entry for child in self.running.values() for entry in child.requests]

    def result(self, node_id: str, data: dict[str, Any]) -> InvocationResult:
        """A completed child run's outputs as the node's returned messages (W1)."""
        node = self._node(node_id)
        decode = node.workflow.registry.decode
        outputs = [decode(value) for value in data["outputs"]]
        return InvocationResult(sent=[SentMessage(value, None, returned=True) for value in outputs])

    def failure(
        self, node_id: str, message: str, error_type: str, superstep: int
    ) -> ExecutorFailedError:
        """The parent's failure for a failed child run: the path of the node that failed (W5)."""
        prefix = "executor '"
        if message.startswith(prefix) and "' failed: " in message:
            failed, rest = message[len(prefix) :].split("' failed: ", 1)
            kind, _, error = rest.partition(": ")
            return ExecutorFailedError(f"{node_id}/{failed}", error or rest, kind, superstep)
        kind, _, error = message.partition(": ")
        if error and kind.replace(".", "").replace("_", "").isalnum():
            return ExecutorFailedError(node_id, error, kind, superstep)
        return ExecutorFailedError(node_id, message, error_type, superstep)

    def finish(self) -> None:
        """The superstep ended: its child runs are over."""
        self.running = {}

    def _node(self, node_id: str) -> SubWorkflow:
        for child in self.running.values():
            if child.node.id == node_id:
                return child.node
        msg = f"no child run of {node_id!r} in this superstep (a bug)"
        raise KeyError(msg)


def report(
    seam: OrchestrationSeam,
    parent: dict[str, Any],
    events: list[dict[str, Any]],
    requests: list[dict[str, Any]],
    sequence: int,
) -> None:
    """A child run's report to its parent (its new events and its open requests)."""
    data = {"events": events, "requests": requests, "sequence": sequence}
    seam.send_event(parent["instance_id"], parent["channel"], data)
