"""The node model: every vertex of a workflow graph is a `Node` with typed inputs and outputs."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

from ..errors import WorkflowDefinitionError

NodeKind = Literal["executor", "agent", "port", "delay", "workflow"]

ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
"""Node ids: printable, stable identifiers (they appear in durable names and request ids)."""


def check_id(node_id: object, what: str = "Executor id") -> str:
    """Return `node_id` if it is a valid id, else raise a `WorkflowDefinitionError`."""
    if not isinstance(node_id, str) or not ID_PATTERN.match(node_id):
        msg = (
            f"{what} {node_id!r} is not a valid id: use letters, digits, '_', '-' and '.', "
            "starting with a letter or '_' (at most 128 characters)"
        )
        raise WorkflowDefinitionError(msg)
    return node_id


class Node(ABC):
    """A vertex of a workflow graph."""

    kind: ClassVar[NodeKind]

    @property
    @abstractmethod
    def id(self) -> str:
        """The node's id, unique within a workflow."""

    @property
    @abstractmethod
    def input_types(self) -> tuple[Any, ...]:
        """Annotations of the messages the node accepts (`Any` accepts everything)."""

    @property
    @abstractmethod
    def output_types(self) -> tuple[Any, ...]:
        """Annotations of the messages the node sends (`Any` when undeclared)."""

    @property
    def yield_types(self) -> tuple[Any, ...]:
        """Annotations of the outputs the node yields with `ctx.yield_output` (if declared)."""
        return ()

    @property
    def asked_types(self) -> tuple[Any, ...]:
        """Annotations of the requests it makes with `ctx.request_info`, and their responses."""
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"
