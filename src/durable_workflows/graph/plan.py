"""The compiled plan: an immutable, JSON-serialisable description of a workflow's graph.

The plan carries what a durable run must agree on with the code that serves it: node ids and
kinds, their types, the edge groups and limits. Its `graph_hash` changes when any of that
changes, so a run can detect that the definition changed under it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from ..model.agent_nodes import AgentNode
from ..model.delays import Delay
from ..model.edges import (
    EdgeGroup,
    FanInEdge,
    FanOutEdge,
    SingleEdge,
    TimeoutEdge,
    condition_name,
)
from ..model.executors import Executor
from ..model.nodes import Node
from ..model.ports import RequestPort
from ..values.typing_utils import type_key

PLAN_VERSION = 1


@dataclass(frozen=True)
class NodePlan:
    """One node of the plan."""

    id: str
    kind: str
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]
    timeout_seconds: float | None = None
    """Request ports: how long a request may wait for its response."""


@dataclass(frozen=True)
class EdgeGroupPlan:
    """One edge group of the plan (conditions appear by name only)."""

    id: str
    kind: str
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    conditions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExecutionPlan:
    """What a workflow compiles to."""

    name: str
    start: str
    max_supersteps: int
    nodes: tuple[NodePlan, ...]
    edge_groups: tuple[EdgeGroupPlan, ...]
    version: int = PLAN_VERSION

    @cached_property
    def graph_hash(self) -> str:
        """A stable hash of everything in the plan (hex, 16 characters)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON data (lists, dicts, strings and numbers)."""
        return {
            "name": self.name,
            "start": self.start,
            "max_supersteps": self.max_supersteps,
            "nodes": [
                {
                    "id": n.id,
                    "kind": n.kind,
                    "input_types": list(n.input_types),
                    "output_types": list(n.output_types),
                    "timeout_seconds": n.timeout_seconds,
                }
                for n in self.nodes
            ],
            "edge_groups": [
                {
                    "id": g.id,
                    "kind": g.kind,
                    "sources": list(g.sources),
                    "targets": list(g.targets),
                    "conditions": list(g.conditions),
                }
                for g in self.edge_groups
            ],
            "version": self.version,
        }

    def to_json(self) -> str:
        """The plan as a JSON string (with its hash)."""
        return json.dumps({**self.to_dict(), "graph_hash": self.graph_hash}, indent=2)


def compile_plan(
    name: str,
    start: str,
    max_supersteps: int,
    nodes: dict[str, Node],
    groups: tuple[EdgeGroup, ...],
) -> ExecutionPlan:
    """Compile validated nodes and groups into an `ExecutionPlan`."""
    return ExecutionPlan(
        name=name,
        start=start,
        max_supersteps=max_supersteps,
        nodes=tuple(_node_plan(node) for node in nodes.values()),
        edge_groups=tuple(_group_plan(group) for group in groups),
    )


def _node_plan(node: Node) -> NodePlan:
    timeout = None
    if isinstance(node, RequestPort) and node.timeout is not None:
        timeout = node.timeout / timedelta(seconds=1)
    extra: tuple[str, ...] = ()
    if isinstance(node, AgentNode):
        extra = (f"session={node.session}", f"session_key={node.session_key}")
    if isinstance(node, Delay):
        extra = (f"delay={node.duration / timedelta(seconds=1):g}s",)
    child = getattr(node, "workflow", None)  # a SubWorkflow: its graph is part of this one's
    if child is not None:
        extra = (f"workflow={child.name}@{child.graph_hash}",)
    if isinstance(node, Executor):
        extra = tuple(
            f"asks={type_key(s.request_type)}->{type_key(s.response_type)}"
            for s in node.response_handlers
        )
    return NodePlan(
        id=node.id,
        kind=node.kind,
        input_types=tuple(type_key(t) for t in node.input_types),
        output_types=tuple(type_key(t) for t in node.output_types) + extra,
        timeout_seconds=timeout,
    )


def _group_plan(group: EdgeGroup) -> EdgeGroupPlan:
    if isinstance(group, SingleEdge):
        conditions = (condition_name(group.condition),) if group.condition else ()
        return EdgeGroupPlan(group.id, "edge", (group.source,), (group.target,), conditions)
    if isinstance(group, FanOutEdge):
        return EdgeGroupPlan(group.id, "fan-out", (group.source,), group.targets)
    if isinstance(group, FanInEdge):
        return EdgeGroupPlan(group.id, "fan-in", group.sources, (group.target,))
    if isinstance(group, TimeoutEdge):
        return EdgeGroupPlan(group.id, "timeout", (group.source,), (group.target,))
    labels = (*tuple(label for _, _, label in group.cases), "default")
    return EdgeGroupPlan(group.id, "switch-case", (group.source,), group.targets, labels)
