"""`RequestPort`: a node where the workflow pauses until someone outside answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Generic

from pydantic import BaseModel
from typing_extensions import TypeVar

from ..errors import WorkflowDefinitionError
from ..values.typing_utils import is_any
from .nodes import Node, NodeKind, check_id

RequestT = TypeVar("RequestT", default=Any)


class RequestPort(Node):
    """The message arriving here becomes a request; the response goes to the port's successors.

    ```python
    approval = RequestPort("ManagerApproval", request_type=Expense, response_type=bool,
                           timeout=timedelta(days=7))
    ```
    A run waits (durably, for as long as needed) for each request. With a `timeout`, an
    unanswered request fails the run, naming the port and request id, unless a timeout edge
    (`WorkflowBuilder.add_timeout_edge`) routes it on as a `RequestTimedOut`.
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


class RequestTimedOut(BaseModel, Generic[RequestT]):
    """What a timeout edge delivers when a request got no response within its port's timeout.

    A handler declares ``RequestTimedOut[Expense]`` (the port's request type) or just
    ``RequestTimedOut``.
    """

    request_id: str
    port_id: str
    request: RequestT
    waited: timedelta
    """The port's timeout: the request was open at least this long."""


def timed_out_type(port: RequestPort) -> Any:
    """The message type a timeout edge from `port` carries."""
    if is_any(port.request_type):
        return RequestTimedOut
    generic: Any = RequestTimedOut
    return generic[port.request_type]
