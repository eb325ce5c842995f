"""`RequestPort`: a node where the workflow pauses until someone outside answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from ..errors import WorkflowDefinitionError
from .nodes import Node, NodeKind, check_id


class RequestPort(Node):
    """The message arriving here becomes a request; the response goes to the port's successors.

    ```python
    approval = RequestPort("ManagerApproval", request_type=Expense, response_type=bool,
                           timeout=timedelta(days=7))
    ```
    A run waits (durably, for as long as needed) for each request. With a `timeout`, an
    unanswered request fails the run, naming the port and request id.
    """

    kind: ClassVar[NodeKind] = "port"

    def __init__(
        self,
        id: str,
        *,
        request_type: Any = Any,
        response_type: Any = Any,
        timeout: timedelta | None = None,
    ) -> None:
        self._id = check_id(id, "RequestPort id")
        self.request_type = request_type
        self.response_type = response_type
        if timeout is not None and timeout <= timedelta(0):
            msg = f"RequestPort {id!r}: timeout must be positive, got {timeout}"
            raise WorkflowDefinitionError(msg)
        self.timeout = timeout

    @property
    def id(self) -> str:
        return self._id

    @property
    def input_types(self) -> tuple[Any, ...]:
        return (self.request_type,)

    @property
    def output_types(self) -> tuple[Any, ...]:
        return (self.response_type,)
