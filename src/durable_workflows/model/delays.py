"""`Delay`: a node that forwards its message after a durable timer (docs/semantics.md C2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from ..errors import WorkflowDefinitionError
from .nodes import Node, NodeKind, check_id


class Delay(Node):
    """Forwards each message it receives once `duration` has passed.

    ```python
    cool_off = Delay("CoolOff", timedelta(days=1), message_type=Order)
    ```
    Durably the wait is a durable timer: it costs nothing while it runs and survives restarts.
    In process it is instant (the virtual clock jumps, C1).
    """

    kind: ClassVar[NodeKind] = "delay"

    def __init__(self, id: str, duration: timedelta, *, message_type: Any = Any) -> None:
        self._id = check_id(id, "Delay id")
        if not isinstance(duration, timedelta) or duration <= timedelta(0):
            msg = f"Delay {id!r}: duration must be a positive timedelta, got {duration!r}"
            raise WorkflowDefinitionError(msg)
        self.duration = duration
        self.message_type = message_type

    @property
    def id(self) -> str:
        return self._id

    @property
    def input_types(self) -> tuple[Any, ...]:
        return (self.message_type,)

    @property
    def output_types(self) -> tuple[Any, ...]:
        return (self.message_type,)
