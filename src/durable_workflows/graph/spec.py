"""`GraphSpec`: a graph as the builder recorded it, the one input of validation and compilation.

The builder produces it, validation checks it and `Workflow` is compiled from it, so neither
validation nor `Workflow` needs to know the builder: the dependency points one way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..model.edges import EdgeGroup
from ..model.nodes import Node


@dataclass(frozen=True)
class GraphSpec:
    """The nodes and edge groups of a graph, with the reference problems found while adding them."""

    name: str
    description: str | None
    start_id: str
    max_supersteps: int
    nodes: Mapping[str, Node]
    """The nodes in the order they were first referenced."""
    groups: tuple[EdgeGroup, ...]
    """The edge groups in declaration order."""
    duplicates: tuple[tuple[str, Node, Node], ...] = ()
    """(id, first node, other node) for each id used by two different nodes."""
    unknown_refs: tuple[tuple[str, str], ...] = ()
    """(id, where) for each string reference to a node never added."""
    version: str | None = None
    """The version label given to the builder (None: the graph hash is the version)."""
