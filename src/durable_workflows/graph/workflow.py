"""`Workflow`: a validated graph, its compiled plan, and the routing index the engine uses."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Union

from ..model.edges import EdgeGroup, FanInEdge, TimeoutEdge, group_targets
from ..model.edges import group_sources as sources_of
from ..model.executors import Executor
from ..model.nodes import Node
from ..model.ports import RequestPort, timed_out_type
from ..values.serialization import TypeRegistry
from ..values.typing_utils import type_key
from .plan import ExecutionPlan, compile_plan

if TYPE_CHECKING:
    from pathlib import Path

    from ..rendering import Format, RunOverlay


class Workflow:
    """A validated, compiled workflow. Create it with `WorkflowBuilder(...).build()`."""

    def __init__(
        self,
        *,
        name: str,
        description: str | None,
        start: str,
        max_supersteps: int,
        nodes: dict[str, Node],
        groups: tuple[EdgeGroup, ...],
        version: str | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.start_id = start
        self.max_supersteps = max_supersteps
        self.nodes: dict[str, Node] = dict(nodes)
        self.groups = groups
        self.plan: ExecutionPlan = compile_plan(name, start, max_supersteps, nodes, groups)
        self.graph_hash = self.plan.graph_hash
        self.version: str = version or self.graph_hash
        """The version runs are pinned to: the builder's ``version=``, else the graph hash."""
        outgoing: dict[str, list[EdgeGroup]] = {node_id: [] for node_id in nodes}
        timeouts: dict[str, list[str]] = {}
        for group in groups:
            if isinstance(group, TimeoutEdge):
                timeouts.setdefault(group.source, []).append(group.target)
                continue
            for source in dict.fromkeys(sources_of(group)):
                outgoing[source].append(group)
        self.timeout_targets: dict[str, tuple[str, ...]] = {
            port: tuple(targets) for port, targets in timeouts.items()
        }
        """Per port, the targets of its timeout edges (in declaration order)."""
        self.outgoing: dict[str, tuple[EdgeGroup, ...]] = {
            node_id: tuple(found) for node_id, found in outgoing.items()
        }
        self.successors: dict[str, frozenset[str]] = {
            node_id: frozenset(t for g in self.outgoing[node_id] for t in group_targets(g))
            for node_id in nodes
        }
        self.node_index = {node_id: index for index, node_id in enumerate(nodes)}
        self.registry = TypeRegistry(self.declared_types)

    @cached_property
    def declared_types(self) -> tuple[Any, ...]:
        """Every annotation the workflow's values can have, its sub-workflows' included (J3)."""
        found: list[Any] = []
        for node in self.nodes.values():
            found += [*node.input_types, *node.output_types, *node.yield_types, *node.asked_types]
            child = getattr(node, "workflow", None)
            if isinstance(child, Workflow):
                found += child.declared_types
        found += [timed_out_type(self.ports[port]) for port in self.timeout_targets]
        return tuple(found)

    @cached_property
    def output_types(self) -> tuple[Any, ...]:
        """What the workflow can output: what its nodes yield, and what nodes without
        edges return (O1; what a sub-workflow node sends, D8)."""
        found: list[Any] = []
        for node_id, node in self.nodes.items():
            found += node.yield_types
            if not self.outgoing[node_id]:
                found += node.output_types
        return tuple(dict.fromkeys(found))

    def child(self, path: str) -> tuple[Workflow, str]:
        """For a path-qualified id (``"sub/port"``), the workflow that owns it and the id in
        it; `KeyError` if a prefix names no sub-workflow node."""
        workflow, rest = self, path
        while "/" in rest:
            head, rest = rest.split("/", 1)
            child = getattr(workflow.nodes[head], "workflow", None)
            if not isinstance(child, Workflow):
                raise KeyError(path)
            workflow = child
        return workflow, rest

    @property
    def start(self) -> Node:
        """The start node."""
        return self.nodes[self.start_id]

    @cached_property
    def fan_ins(self) -> tuple[FanInEdge, ...]:
        """The fan-in barriers."""
        return tuple(g for g in self.groups if isinstance(g, FanInEdge))

    @cached_property
    def ports(self) -> dict[str, RequestPort]:
        """The request ports by id (computed once: every superstep of every replay reads it)."""
        return {n.id: n for n in self.nodes.values() if isinstance(n, RequestPort)}

    @cached_property
    def askers(self) -> dict[str, Executor]:
        """The executors that can ask with `ctx.request_info` (they have response handlers)."""
        return {
            n.id: n for n in self.nodes.values() if isinstance(n, Executor) and n.response_handlers
        }

    @cached_property
    def request_names(self) -> tuple[str, ...]:
        """What requests wait at: the ports and the executors that ask (P10, P11)."""
        return (*self.ports, *self.askers)

    def response_type(self, port_id: str, key: str | None = None) -> Any:
        """The response type of a request waiting at `port_id`: the port's, or for an executor
        that asks, the response type with type key `key` (without a key: a union of those it
        can take). `KeyError` when `port_id` takes no requests (or not of that type)."""
        owner, port_id = self.child(port_id)
        if owner is not self:
            return owner.response_type(port_id, key)
        port = self.ports.get(port_id)
        if port is not None:
            return port.response_type
        asked = {type_key(s.response_type): s.response_type for s in self.askers[port_id].response_handlers}
        if key is not None:
            return asked[key]
        members = tuple(asked.values())
        return members[0] if len(members) == 1 else Union[members]  # noqa: UP007

    def request_hints(self, port_id: str) -> tuple[Any, ...]:
        """The types a request waiting at `port_id` may have (for encoding it)."""
        owner, port_id = self.child(port_id)
        if owner is not self:
            return owner.request_hints(port_id)
        if port_id in self.ports:
            return self.ports[port_id].input_types
        return tuple(s.request_type for s in self.askers[port_id].response_handlers)

    @property
    def input_types(self) -> tuple[Any, ...]:
        """What the start node accepts (the workflow's input)."""
        return self.start.input_types

    def to_dot(self, overlay: RunOverlay | None = None) -> str:
        """The graph as graphviz DOT text (with a run's state drawn over it, given `overlay`)."""
        from ..rendering import workflow_to_dot

        return workflow_to_dot(self, overlay=overlay)

    def to_mermaid(self) -> str:
        """The graph as Mermaid flowchart text."""
        from ..rendering import workflow_to_mermaid

        return workflow_to_mermaid(self)

    def render(
        self, path: str | Path, format: Format | None = None, *, overlay: RunOverlay | None = None
    ) -> Path:
        """Write the diagram to `path` in the format its suffix names (.svg, .png, .pdf, .dot,
        .mmd; the images need graphviz: see docs/rendering.md); `format` is for other suffixes."""
        from ..rendering import render

        return render(self, path, format, overlay=overlay)

    def _repr_svg_(self) -> str | None:
        """Inline SVG in Jupyter (see `rendering.output.inline_svg`)."""
        from ..rendering.output import inline_svg

        return inline_svg(self)

    def _repr_html_(self) -> str | None:
        """None (the SVG shows) while a graphviz program exists, else an HTML note on what to
        install, which notebooks show in preference to the SVG."""
        from ..rendering.output import inline_html

        return inline_html()

    def __repr__(self) -> str:
        version = "" if self.version == self.graph_hash else f", version={self.version!r}"
        return f"Workflow(name={self.name!r}{version}, nodes={len(self.nodes)}, hash={self.graph_hash})"
