"""`Workflow`: a validated graph, its compiled plan, and the routing index the engine uses."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..model.edges import EdgeGroup, FanInEdge, group_targets
from ..model.edges import group_sources as sources_of
from ..model.nodes import Node
from ..model.ports import RequestPort
from ..values.serialization import TypeRegistry
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
        for group in groups:
            for source in dict.fromkeys(sources_of(group)):
                outgoing[source].append(group)
        self.outgoing: dict[str, tuple[EdgeGroup, ...]] = {
            node_id: tuple(found) for node_id, found in outgoing.items()
        }
        self.successors: dict[str, frozenset[str]] = {
            node_id: frozenset(t for g in self.outgoing[node_id] for t in group_targets(g))
            for node_id in nodes
        }
        self.node_index = {node_id: index for index, node_id in enumerate(nodes)}
        self.registry = TypeRegistry(
            t
            for node in nodes.values()
            for t in (*node.input_types, *node.output_types, *node.yield_types)
        )

    @property
    def start(self) -> Node:
        """The start node."""
        return self.nodes[self.start_id]

    @cached_property
    def fan_ins(self) -> tuple[FanInEdge, ...]:
        """The fan-in barriers."""
        return tuple(g for g in self.groups if isinstance(g, FanInEdge))

    @property
    def ports(self) -> dict[str, RequestPort]:
        """The request ports by id."""
        return {n.id: n for n in self.nodes.values() if isinstance(n, RequestPort)}

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
