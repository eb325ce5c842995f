"""`SubWorkflow`: a built `Workflow` used as a node of another (docs/semantics.md D8, W1-W5)."""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import WorkflowDefinitionError
from ..model.nodes import Node, NodeKind, check_id
from .workflow import Workflow


class SubWorkflow(Node):
    """Runs `workflow` to its end on each message it receives; the child run's outputs are the
    node's messages to its successors.

    ```python
    review = SubWorkflow(review_workflow, id="review")
    builder.add_chain([intake, review, archive])
    ```
    A `Workflow` passed where a node is expected is wrapped in one (its id is its name).
    Durably each child run is a sub-orchestration; its events and requests surface on the
    parent run with the node's path.
    """

    kind: ClassVar[NodeKind] = "workflow"

    def __init__(self, workflow: Workflow, *, id: str | None = None) -> None:
        if not isinstance(workflow, Workflow):
            msg = (
                f"SubWorkflow needs a built Workflow, got {type(workflow).__qualname__}; call "
                ".build() on the WorkflowBuilder first"
            )
            raise WorkflowDefinitionError(msg)
        self.workflow = workflow
        self._id = check_id(id if id is not None else workflow.name, "SubWorkflow id")

    @property
    def id(self) -> str:
        return self._id

    @property
    def input_types(self) -> tuple[Any, ...]:
        return self.workflow.input_types

    @property
    def output_types(self) -> tuple[Any, ...]:
        return self.workflow.output_types
