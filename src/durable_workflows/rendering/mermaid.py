"""Mermaid flowchart text for a render model (for Markdown renderers such as GitHub's)."""

from __future__ import annotations

import re

from .model import RenderEdge, RenderModel, RenderNode

SHAPES: dict[str, tuple[str, str]] = {
    "executor": ("[", "]"),
    "agent": ("(", ")"),
    "port": ("[/", "/]"),
    "delay": ("([", "])"),
    "workflow": ("[[", "]]"),
    "unknown": ("[", "]"),
    "start": ("((", "))"),
    "fork": ("[", "]"),
    "switch": ("{", "}"),
    "barrier": ("[", "]"),
}

CLASSES = {
    "executor": "fill:#dbe9f6,stroke:#2b5d8a",
    "agent": "fill:#e6dcf5,stroke:#6a4c93",
    "port": "fill:#fdf0c8,stroke:#b7950b",
    "delay": "fill:#eceff1,stroke:#455a64,stroke-dasharray:4 2",
    "workflow": "fill:#e0f2f1,stroke:#00695c",
    "unknown": "fill:#fff,stroke:#c62828,stroke-dasharray:4 2",
    "start": "fill:#000,stroke:#000,color:#fff",
    "fork": "fill:#2b5d8a,stroke:#2b5d8a,color:#fff",
    "switch": "fill:#fff3e0,stroke:#e65100",
    "barrier": "fill:#000,stroke:#000,color:#fff",
    "entry": "stroke-width:3px",
}


def model_to_mermaid(model: RenderModel) -> str:
    """A ``flowchart TD`` for `model`; ids are ``n0, n1, ...`` in declaration order."""
    ids = _mermaid_ids(model.nodes)
    lines = [f"%% {_comment(model.name)}", "flowchart TD"]
    for node in model.nodes:
        opening, closing = SHAPES[node.kind]
        lines.append(f'    {ids[node.id]}{opening}"{_label(node)}"{closing}')
    lines += [_edge(edge, ids) for edge in model.edges]
    lines += _subgraphs(model, ids, None, "    ")
    lines += [f"    classDef {name} {style}" for name, style in CLASSES.items()]
    for kind in SHAPES:
        members = [ids[node.id] for node in model.nodes if node.kind == kind]
        if members:
            lines.append(f"    class {','.join(members)} {kind}")
    lines += [f"    class {ids[node.id]} entry" for node in model.nodes if node.is_start]
    return "\n".join(lines) + "\n"


def _subgraphs(
    model: RenderModel, ids: dict[str, str], parent: str | None, indent: str
) -> list[str]:
    """Sub-workflows as (nested) subgraphs ``s0, s1, ...`` holding their nodes."""
    lines = []
    for index, cluster in enumerate(model.clusters):
        if cluster.parent != parent:
            continue
        lines.append(f'{indent}subgraph s{index}["{_escape(cluster.label)}"]')
        lines += [f"{indent}    {ids[n.id]}" for n in model.nodes if n.cluster == cluster.id]
        lines += _subgraphs(model, ids, cluster.id, indent + "    ")
        lines.append(f"{indent}end")
    return lines


def _mermaid_ids(nodes: tuple[RenderNode, ...]) -> dict[str, str]:
    ids: dict[str, str] = {}
    count = 0
    for node in nodes:
        if node.kind in ("fork", "switch", "barrier"):
            path, _, helper = node.id.rpartition("/")  # (a helper inside a sub-workflow)
            kind, group_id = helper.split(":", 1)
            prefix = re.sub(r"\W", "_", path) + "_" if path else ""
            ids[node.id] = f"{prefix}{kind.replace('-', '')}_{group_id}"
        elif node.kind == "start":
            ids[node.id] = "start"
        else:
            ids[node.id] = f"n{count}"
            count += 1
    return ids


def _label(node: RenderNode) -> str:
    return "<br/>".join(_escape(line) for line in (node.title, *node.details))


def _edge(edge: RenderEdge, ids: dict[str, str]) -> str:
    arrow = "-.->" if edge.kind in ("conditional", "default", "timeout", "outputs") else "-->"
    if not edge.arrow:
        arrow = "---"
    label = f'|"{_escape(edge.label)}"|' if edge.label else ""
    return f"    {ids[edge.source]} {arrow}{label} {ids[edge.target]}"


def _escape(text: str) -> str:
    return (
        text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )


def _comment(text: str) -> str:
    return " ".join(text.split())
