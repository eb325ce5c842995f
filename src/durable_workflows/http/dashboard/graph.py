"""The workflow graph as the dashboard draws it: SVG whose nodes and edges have stable ids.

Node i and edge i of the render model (`build_model`, declaration order) are the SVG elements
``dw-n<i>`` and ``dw-e<i>``; the page colours them as a run's events arrive.
"""

from __future__ import annotations

from typing import Any

from ...graph.workflow import Workflow
from ...rendering.dot import edge_element_id, model_to_dot, node_element_id
from ...rendering.model import build_model
from ...rendering.output import RenderingError, run_dot


def dashboard_graph(workflow: Workflow) -> dict[str, Any]:
    """``{"svg", "renderError", "nodes", "edges"}``: the SVG (None, with the reason, when no
    graphviz program can draw it) and the model's nodes and edges with their SVG ids."""
    model = build_model(workflow)
    svg: str | None = None
    error: str | None = None
    try:
        drawn = run_dot(model_to_dot(model, element_ids=True), "svg").decode("utf-8")
        svg = drawn[drawn.index("<svg") :]  # no XML prolog or doctype: it is inlined in HTML
    except RenderingError as exc:
        error = str(exc)
    return {
        "svg": svg,
        "renderError": error,
        "nodes": [
            {"id": n.id, "kind": n.kind, "title": n.title, "domId": node_element_id(i)}
            for i, n in enumerate(model.nodes)
        ],
        "edges": [
            {"source": e.source, "target": e.target, "kind": e.kind, "domId": edge_element_id(i)}
            for i, e in enumerate(model.edges)
        ],
    }
