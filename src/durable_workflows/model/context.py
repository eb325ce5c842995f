"""`WorkflowContext`: what a handler uses to send messages, yield outputs and touch shared state.

A context records; it performs nothing. The engine applies what it recorded when the
superstep ends, which is what makes in-process and durable runs behave the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic

from typing_extensions import TypeVar

from .requests import Asked, InfoRequest

OutT = TypeVar("OutT", default=Any)
WOutT = TypeVar("WOutT", default=Any)


@dataclass
class SentMessage:
    """A message a handler sent, with its optional explicit target."""

    value: Any
    target_id: str | None = None
    returned: bool = False
    """True for a handler's return value (which becomes an output at a node with no edges)."""


@dataclass
class InvocationResult:
    """Everything one handler invocation did, in the order it did it."""

    sent: list[SentMessage] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    state_updates: dict[str, Any] = field(default_factory=dict)
    halt: bool = False
    requests: list[InfoRequest] = field(default_factory=list)
    """What the handler asked with `ctx.request_info`, in call order."""


class WorkflowContext(Generic[OutT, WOutT]):
    """Passed to handlers that ask for it (a parameter annotated `WorkflowContext`).

    ``WorkflowContext[T]`` declares that the handler sends messages of type ``T`` (checked
    against its successors' input types at build time); ``WorkflowContext[T, W]`` also declares
    that it yields outputs of type ``W``.
    """

    def __init__(
        self,
        executor_id: str,
        state: dict[str, Any] | None = None,
        *,
        run_id: str = "",
        superstep: int = 0,
    ) -> None:
        self._executor_id = executor_id
        self._state = state if state is not None else {}
        self._run_id = run_id
        self._superstep = superstep
        self.result = InvocationResult()

    @property
    def executor_id(self) -> str:
        """The id of the executor being invoked."""
        return self._executor_id

    @property
    def run_id(self) -> str:
        """The id of the run (empty in-process unless given)."""
        return self._run_id

    @property
    def superstep(self) -> int:
        """The current superstep, counting from 1."""
        return self._superstep

    def send_message(self, message: OutT, target_id: str | None = None) -> None:
        """Send `message` along the outgoing edges, or only to successor `target_id`."""
        self.result.sent.append(SentMessage(message, target_id))

    def yield_output(self, value: WOutT) -> None:
        """Add `value` to the workflow's outputs."""
        self.result.outputs.append(value)

    def add_event(self, data: Any) -> None:
        """Publish a custom event to the run's event stream."""
        self.result.events.append(data)

    def get_state(self, key: str, default: Any = None) -> Any:
        """Read shared state: this invocation's own writes, else the value at superstep start."""
        if key in self.result.state_updates:
            return self.result.state_updates[key]
        return self._state.get(key, default)

    def set_state(self, key: str, value: Any) -> None:
        """Write shared state; visible to other nodes from the next superstep on."""
        self.result.state_updates[key] = value

    def request_info(self, request: Any, response_type: Any) -> Asked:
        """Ask for input (docs/semantics.md P11): `request` becomes a request whose response,
        of type `response_type`, goes to this executor's matching `@response_handler`.

        Works with or without ``await``.
        """
        self.result.requests.append(InfoRequest(request, response_type))
        return Asked()

    def request_halt(self) -> None:
        """End the run successfully when this superstep completes."""
        self.result.halt = True
