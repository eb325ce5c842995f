"""DOT (graphviz) text for a render model, optionally with a run overlay and its legend."""

from __future__ import annotations

from .model import RenderEdge, RenderModel, RenderNode
from .overlay import STATUSES, NodeStatus, RunOverlay

FONT = "Helvetica"
TIMES = "\u00d7"
"""The multiplication sign of run counts (``completed \u00d73``)."""

NODE_ATTRS: dict[str, dict[str, str]] = {
    "executor": {"shape": "box", "style": "filled", "fillcolor": "#dbe9f6", "color": "#2b5d8a"},
    "agent": {
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": "#e6dcf5",
        "color": "#6a4c93",
    },
    "port": {
        "shape": "cds",
        "style": "filled",
        "fillcolor": "#fdf0c8",
        "color": "#b7950b",
        "margin": "0.2,0.08",
    },
    "delay": {
        "shape": "box",
        "style": "rounded,filled,dashed",
        "fillcolor": "#eceff1",
        "color": "#455a64",
    },
    "workflow": {
        "shape": "box",
        "style": "filled",
        "fillcolor": "#e0f2f1",
        "color": "#00695c",
        "fontsize": "10",
    },
    "unknown": {"shape": "box", "style": "dashed", "color": "#c62828", "fontcolor": "#c62828"},
    "start": {
        "shape": "circle",
        "style": "filled",
        "fillcolor": "black",
        "label": "",
        "width": "0.2",
        "fixedsize": "true",
    },
    "fork": {
        "shape": "box",
        "style": "filled",
        "fillcolor": "#2b5d8a",
        "color": "#2b5d8a",
        "label": "",
        "width": "0.8",
        "height": "0.06",
        "fixedsize": "true",
    },
    "switch": {
        "shape": "diamond",
        "style": "filled",
        "fillcolor": "#fff3e0",
        "color": "#e65100",
        "fontsize": "9",
    },
    "barrier": {
        "shape": "box",
        "style": "filled",
        "fillcolor": "black",
        "fontcolor": "white",
        "fontsize": "9",
        "height": "0.2",
        "margin": "0.05,0.01",
    },
}

EDGE_ATTRS: dict[str, dict[str, str]] = {
    "plain": {},
    "conditional": {"style": "dashed"},
    "case": {"color": "#e65100"},
    "default": {"color": "#e65100", "style": "dashed"},
    "fan-out": {"color": "#2b5d8a"},
    "fan-in": {"penwidth": "1.5"},
    "start": {},
    "timeout": {"style": "dashed", "color": "#c62828", "fontcolor": "#c62828"},
    "outputs": {"style": "dotted", "color": "#00695c", "arrowhead": "empty"},
}

CLUSTER_COLOR = "#00695c"

STATUS_ATTRS: dict[NodeStatus, dict[str, str]] = {
    "completed": {"fillcolor": "#c8e6c9", "color": "#2e7d32"},
    "failed": {"fillcolor": "#ffcdd2", "color": "#c62828", "penwidth": "2"},
    "waiting": {"fillcolor": "#ffe0b2", "color": "#ef6c00", "penwidth": "2"},
    "running": {"fillcolor": "#bbdefb", "color": "#1565c0"},
    "not-run": {"fillcolor": "#f5f5f5", "color": "#9e9e9e", "fontcolor": "#757575"},
}


def model_to_dot(
    model: RenderModel, overlay: RunOverlay | None = None, *, element_ids: bool = False
) -> str:
    """DOT source for `model`; with `overlay`, nodes are colored by status with run counts.

    With `element_ids`, node i and edge i of the model get the SVG ids ``dw-n<i>`` and
    ``dw-e<i>`` (`node_element_id`, `edge_element_id`), for pages that draw on the SVG.
    """
    title = model.name + (f"\n{model.description}" if model.description else "")
    lines = [
        f"digraph {quote(model.name)} {{",
        f"  graph [label={quote(title)}, labelloc=t, fontname={quote(FONT)}, fontsize=14,"
        " rankdir=TB, nodesep=0.4, ranksep=0.45];",
        f"  node [fontname={quote(FONT)}, fontsize=11];",
        f"  edge [fontname={quote(FONT)}, fontsize=9];",
    ]
    for index, node in enumerate(model.nodes):
        attrs = _node_attrs(node, overlay)
        if element_ids:
            attrs["id"] = node_element_id(index)
        lines.append(f"  {quote(node.id)} [{_attrs(attrs)}];")
    lines += [
        _edge(edge, edge_element_id(index) if element_ids else None)
        for index, edge in enumerate(model.edges)
    ]
    lines += _clusters(model, None, "  ")
    if overlay is not None:
        lines += _legend(overlay)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _clusters(model: RenderModel, parent: str | None, indent: str) -> list[str]:
    """The sub-workflows inside `parent` as (nested) cluster subgraphs listing their nodes."""
    lines = []
    for cluster in (c for c in model.clusters if c.parent == parent):
        lines += [
            f"{indent}subgraph {quote('cluster_' + cluster.id)} {{",
            f"{indent}  label={quote(cluster.label)}; style={quote('rounded,dashed')}; "
            f"color={quote(CLUSTER_COLOR)}; fontsize=10;",
        ]
        members = [quote(n.id) for n in model.nodes if n.cluster == cluster.id]
        lines.append(f"{indent}  {'; '.join(members)};")
        lines += _clusters(model, cluster.id, indent + "  ")
        lines.append(f"{indent}}}")
    return lines


def node_element_id(index: int) -> str:
    """The SVG id of the model's node `index` (with ``element_ids``)."""
    return f"dw-n{index}"


def edge_element_id(index: int) -> str:
    """The SVG id of the model's edge `index` (with ``element_ids``)."""
    return f"dw-e{index}"


def quote(text: str) -> str:
    """A DOT double-quoted string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _attrs(attrs: dict[str, str]) -> str:
    return ", ".join(f"{key}={quote(value)}" for key, value in attrs.items())


def _node_attrs(node: RenderNode, overlay: RunOverlay | None) -> dict[str, str]:
    attrs = {"label": "\n".join((node.title, *node.details)), **NODE_ATTRS[node.kind]}
    if node.is_start:
        attrs.update(peripheries="2", penwidth="2")
    if overlay is not None and node.kind in ("executor", "agent", "port", "delay", "workflow"):
        run = overlay.node(node.id)
        attrs.update(STATUS_ATTRS[run.status])
        status = "not run" if run.status == "not-run" else run.status
        attrs["label"] += f"\n{status}" + (f" {TIMES}{run.count}" if run.count else "")
        if run.status == "not-run":
            attrs["style"] += ",dashed"
    return attrs


def _edge(edge: RenderEdge, element_id: str | None = None) -> str:
    attrs = dict(EDGE_ATTRS[edge.kind])
    if element_id is not None:
        attrs["id"] = element_id
    if edge.label:
        attrs["label"] = edge.label
    if not edge.arrow:
        attrs["arrowhead"] = "none"
    if edge.back:
        attrs["constraint"] = "false"
    suffix = f" [{_attrs(attrs)}]" if attrs else ""
    return f"  {quote(edge.source)} -> {quote(edge.target)}{suffix};"


def _legend(overlay: RunOverlay) -> list[str]:
    title = " ".join(
        part for part in ("run", overlay.run_id and repr(overlay.run_id), overlay.status) if part
    )
    lines = [
        "  subgraph cluster_legend {",
        f"    label={quote(title)}; fontsize=10; style=rounded; color={quote('#bbbbbb')};",
        "    { rank=same;",
    ]
    for status in STATUSES:
        attrs = {"label": status, "shape": "box", "style": "filled", "fontsize": "9"}
        attrs.update(STATUS_ATTRS[status])
        lines.append(f"      {quote('legend:' + status)} [{_attrs(attrs)}];")
    chain = " -> ".join(quote("legend:" + status) for status in STATUSES)
    lines += ["    }", f"    {chain} [style=invis];", "  }"]
    return lines
