"""The render model: a workflow graph as plain nodes and edges, ready for DOT or Mermaid.

Everything is in declaration order, so the same graph always renders to the same text. Helper
nodes (the start marker, fan-out forks, switch decisions, fan-in barriers) get ids containing
':', which node ids cannot contain, so they never collide with the workflow's own nodes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal, Protocol

from ..model.agent_nodes import AgentNode
from ..model.delays import Delay
from ..model.edges import (
    EdgeGroup,
    FanInEdge,
    FanOutEdge,
    SingleEdge,
    TimeoutEdge,
    condition_name,
    group_sources,
)
from ..model.nodes import Node
from ..model.ports import RequestPort
from ..values.typing_utils import is_any, short_name

RenderKind = Literal[
    "executor",
    "agent",
    "port",
    "delay",
    "workflow",
    "unknown",
    "start",
    "fork",
    "switch",
    "barrier",
]
EdgeKind = Literal[
    "plain", "conditional", "case", "default", "fan-out", "fan-in", "start", "timeout", "outputs"
]

START_ID = "start:"


class GraphLike(Protocol):
    """What rendering reads: a built `Workflow`, or a `WorkflowBuilder` not yet built."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def start_id(self) -> str: ...
    @property
    def nodes(self) -> Mapping[str, Node]: ...
    @property
    def groups(self) -> Sequence[EdgeGroup]: ...


@dataclass(frozen=True)
class RenderNode:
    """A box to draw: `title` is the first line of its label, `details` the following lines."""

    id: str
    kind: RenderKind
    title: str
    details: tuple[str, ...] = ()
    is_start: bool = False
    cluster: str | None = None
    """The sub-workflow (cluster) the node is drawn in."""


@dataclass(frozen=True)
class RenderEdge:
    """An arrow to draw. `back` marks an edge that closes a cycle (drawn without constraint)."""

    source: str
    target: str
    kind: EdgeKind = "plain"
    label: str = ""
    arrow: bool = True
    back: bool = False


@dataclass(frozen=True)
class RenderCluster:
    """A sub-workflow drawn as a box around its nodes; `id` is the node's path."""

    id: str
    label: str
    parent: str | None = None


@dataclass(frozen=True)
class RenderModel:
    """A whole diagram: nodes and edges in declaration order."""

    name: str
    description: str | None
    nodes: tuple[RenderNode, ...]
    edges: tuple[RenderEdge, ...]
    clusters: tuple[RenderCluster, ...] = ()


def build_model(graph: GraphLike) -> RenderModel:
    """The render model of a workflow (or builder); sub-workflows are drawn as clusters whose
    node ids are paths (``"sub/x"``), entered at their start node and left through the
    sub-workflow's own node, which their outputs reach."""
    nodes = [RenderNode(START_ID, "start", "start")]
    edges = [RenderEdge(START_ID, _entry(graph, graph.start_id), kind="start")]
    clusters: list[RenderCluster] = []
    _draw(graph, "", None, nodes, edges, clusters)
    known = {node.id for node in nodes}
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in known:
                known.add(end)
                nodes.append(RenderNode(end, "unknown", end, ("not declared",)))
    back = _mark_back_edges(nodes, edges)
    return RenderModel(graph.name, graph.description, tuple(nodes), back, tuple(clusters))


def _draw(
    graph: GraphLike,
    prefix: str,
    cluster: str | None,
    nodes: list[RenderNode],
    edges: list[RenderEdge],
    clusters: list[RenderCluster],
) -> None:
    """Add `graph`'s nodes and edges, ids prefixed with `prefix`, inside `cluster`."""
    for node_id, node in graph.nodes.items():
        drawn = _node(node, not prefix and node_id == graph.start_id)
        path = prefix + node_id
        nodes.append(replace(drawn, id=path, cluster=cluster))
        child = _child(node)
        if child is None:
            continue
        label = node_id if node_id == child.name else f"{node_id} · workflow {child.name}"
        clusters.append(RenderCluster(path, label, cluster))
        nodes[-1] = replace(nodes[-1], cluster=path)
        _draw(child, path + "/", path, nodes, edges, clusters)
        edges += [
            RenderEdge(f"{path}/{end}", path, "outputs")
            for end in child.nodes
            if not any(end in group_sources(g) for g in child.groups)
        ]
    for group in graph.groups:
        group_nodes, group_edges = _group(group)
        nodes += [replace(n, id=prefix + n.id, cluster=cluster) for n in group_nodes]
        edges += [
            replace(e, source=prefix + e.source, target=prefix + _entry(graph, e.target))
            for e in group_edges
        ]


def _child(node: Node) -> GraphLike | None:
    """The workflow a sub-workflow node runs (None for any other node)."""
    child = getattr(node, "workflow", None)
    return child if node.kind == "workflow" and child is not None else None


def _entry(graph: GraphLike, node_id: str) -> str:
    """Where an edge into `node_id` ends: a sub-workflow is entered at its start node."""
    node = graph.nodes.get(node_id)
    child = None if node is None else _child(node)
    return node_id if child is None else f"{node_id}/{_entry(child, child.start_id)}"


def _node(node: Node, is_start: bool) -> RenderNode:
    if isinstance(node, AgentNode):
        role = "agent"
        if node.session != "run" or node.session_key is not None:
            role += f" · session: {node.session_key or node.session}"
        details = (role, f"→ {short_name(node.agent.response_type)}")
        return RenderNode(node.id, "agent", node.id, details, is_start)
    child = _child(node)
    if child is not None:
        outputs = " | ".join(short_name(t) for t in node.output_types) or "nothing"
        return RenderNode(node.id, "workflow", node.id, (f"outputs → {outputs}",), is_start)
    if isinstance(node, Delay):
        lines = [f"delay {format_duration(node.duration)}"]
        if not is_any(node.message_type):
            lines.append(short_name(node.message_type))
        return RenderNode(node.id, "delay", node.id, tuple(lines), is_start)
    if isinstance(node, RequestPort):
        role = "request port"
        if node.timeout is not None:
            role += f" · timeout {format_duration(node.timeout)}"
        details = (role, f"{short_name(node.request_type)} → {short_name(node.response_type)}")
        return RenderNode(node.id, "port", node.id, details, is_start)
    asks = tuple(
        f"asks {short_name(s.request_type)} → {short_name(s.response_type)}"
        for s in getattr(node, "response_handlers", ())
    )
    return RenderNode(node.id, "executor", node.id, _signature(node) + asks, is_start)


def _signature(node: Node) -> tuple[str, ...]:
    """``In → Out`` for an executor, or nothing when every type is `Any`."""
    inputs, outputs = node.input_types, node.output_types
    if all(is_any(t) for t in (*inputs, *outputs)):
        return ()
    text = " | ".join(short_name(t) for t in inputs)
    if outputs:
        text += " → " + " | ".join(short_name(t) for t in outputs)
    return (text,)


def format_duration(duration: timedelta) -> str:
    """A compact duration: ``7d``, ``1h30m``, ``45s``."""
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or f"{duration.total_seconds():g}s"


def _group(group: EdgeGroup) -> tuple[list[RenderNode], list[RenderEdge]]:
    if isinstance(group, SingleEdge):
        label = group.label or condition_name(group.condition)
        kind: EdgeKind = "conditional" if group.condition is not None else "plain"
        return [], [RenderEdge(group.source, group.target, kind, label)]
    if isinstance(group, TimeoutEdge):
        return [], [RenderEdge(group.source, group.target, "timeout", "timeout")]
    if isinstance(group, FanOutEdge):
        fork = f"fan-out:{group.id}"
        edges = [RenderEdge(group.source, fork, "fan-out", "fan-out", arrow=False)]
        edges += [RenderEdge(fork, target, "fan-out") for target in group.targets]
        return [RenderNode(fork, "fork", "fan-out")], edges
    if isinstance(group, FanInEdge):
        barrier = f"barrier:{group.id}"
        numbered = len(group.sources) > 1
        edges = [
            RenderEdge(source, barrier, "fan-in", str(index) if numbered else "")
            for index, source in enumerate(group.sources, start=1)
        ]
        edges.append(RenderEdge(barrier, group.target, "fan-in"))
        return [RenderNode(barrier, "barrier", "barrier")], edges
    switch = f"switch:{group.id}"
    edges = [RenderEdge(group.source, switch, "case", arrow=False)]
    edges += [
        RenderEdge(switch, target, "case", f"{index}. {label}")
        for index, (_, target, label) in enumerate(group.cases, start=1)
    ]
    if group.default is not None:
        edges.append(RenderEdge(switch, group.default, "default", "default"))
    return [RenderNode(switch, "switch", "switch")], edges


def _mark_back_edges(nodes: list[RenderNode], edges: list[RenderEdge]) -> tuple[RenderEdge, ...]:
    """Mark the edges a depth-first walk from the start finds closing a cycle."""
    outgoing: dict[str, list[int]] = {node.id: [] for node in nodes}
    for index, edge in enumerate(edges):
        outgoing[edge.source].append(index)
    back: set[int] = set()
    seen: set[str] = set()
    on_path: set[str] = set()
    for root in outgoing:
        if root in seen:
            continue
        seen.add(root)
        on_path.add(root)
        stack: list[tuple[str, Iterator[int]]] = [(root, iter(outgoing[root]))]
        while stack:
            node_id, pending = stack[-1]
            edge_index = next(pending, None)
            if edge_index is None:
                on_path.discard(node_id)
                stack.pop()
                continue
            target = edges[edge_index].target
            if target in on_path:
                back.add(edge_index)
            elif target not in seen:
                seen.add(target)
                on_path.add(target)
                stack.append((target, iter(outgoing[target])))
    return tuple(replace(e, back=i in back) for i, e in enumerate(edges))
