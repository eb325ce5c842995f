"""Diagrams of workflows: DOT and Mermaid text, SVG/PNG/PDF via graphviz, run overlays."""

from .model import GraphLike
from .output import (
    FORMATS,
    SUFFIX_FORMATS,
    Format,
    RenderingError,
    render,
    run_dot,
    workflow_to_dot,
    workflow_to_mermaid,
    workflow_to_svg,
)
from .overlay import NodeRun, NodeStatus, RunOverlay

__all__ = [
    "FORMATS",
    "Format",
    "GraphLike",
    "NodeRun",
    "NodeStatus",
    "RenderingError",
    "RunOverlay",
    "SUFFIX_FORMATS",
    "render",
    "run_dot",
    "workflow_to_dot",
    "workflow_to_mermaid",
    "workflow_to_svg",
]
