"""Events a run emits, in the order they happen. Every event has `run_id` and `sequence`.

Events travel as JSON: `to_dict()` / `event_from_dict()`, with values (outputs, requests,
custom data) in typed envelopes decoded with the workflow's `TypeRegistry`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from ..values.serialization import TypeRegistry


@dataclass(kw_only=True)
class WorkflowEvent:
    """Base class of every event."""

    type: ClassVar[str] = "event"
    value_fields: ClassVar[tuple[str, ...]] = ()
    run_id: str = ""
    sequence: int = 0
    """Position in the run's stream, from 1, strictly increasing."""

    def to_dict(self, registry: TypeRegistry) -> dict[str, Any]:
        """JSON data for this event (values wrapped in typed envelopes)."""
        data: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self.value_fields:
                if f.name == "outputs":
                    value = [registry.encode(item) for item in value]
                else:
                    value = registry.encode(value)
            data[f.name] = value
        return data


@dataclass(kw_only=True)
class WorkflowStartedEvent(WorkflowEvent):
    """The run started."""

    type: ClassVar[str] = "workflow_started"
    workflow_name: str = ""


@dataclass(kw_only=True)
class ExecutorInvokedEvent(WorkflowEvent):
    """An executor or agent started handling a message."""

    type: ClassVar[str] = "executor_invoked"
    executor_id: str
    superstep: int = 0


@dataclass(kw_only=True)
class ExecutorCompletedEvent(WorkflowEvent):
    """An executor or agent finished handling a message."""

    type: ClassVar[str] = "executor_completed"
    executor_id: str
    superstep: int = 0


@dataclass(kw_only=True)
class ExecutorFailedEvent(WorkflowEvent):
    """An executor or agent raised (after its retries, if any)."""

    type: ClassVar[str] = "executor_failed"
    executor_id: str
    error: str
    error_type: str = "Exception"
    superstep: int = 0


@dataclass(kw_only=True)
class WorkflowOutputEvent(WorkflowEvent):
    """A node yielded an output (or a node without outgoing edges returned a value)."""

    type: ClassVar[str] = "workflow_output"
    value_fields: ClassVar[tuple[str, ...]] = ("data",)
    executor_id: str
    data: Any = None


@dataclass(kw_only=True)
class CustomEvent(WorkflowEvent):
    """Data a handler published with `ctx.add_event(data)`."""

    type: ClassVar[str] = "custom"
    value_fields: ClassVar[tuple[str, ...]] = ("data",)
    executor_id: str
    data: Any = None


@dataclass(kw_only=True)
class WaitingForInputEvent(WorkflowEvent):
    """A request port is waiting for a response; answer with `run.send_response(event, value)`."""

    type: ClassVar[str] = "waiting_for_input"
    value_fields: ClassVar[tuple[str, ...]] = ("request",)
    request_id: str
    port_id: str
    request: Any = None
    response_type: str = "Any"


@dataclass(kw_only=True)
class ResponseReceivedEvent(WorkflowEvent):
    """A response to a request was accepted; it goes to the port's successors."""

    type: ClassVar[str] = "response_received"
    value_fields: ClassVar[tuple[str, ...]] = ("response",)
    request_id: str
    port_id: str
    response: Any = None


@dataclass(kw_only=True)
class ResponseRefusedEvent(WorkflowEvent):
    """Something arrived for a request that is not an acceptable response (not JSON, not sent
    with `send_response`, of the wrong type, or a named event that fits no single request);
    the request stays open. `event_name` is the name of the event that was refused."""

    type: ClassVar[str] = "response_refused"
    request_id: str
    port_id: str
    error: str
    event_name: str = ""


@dataclass(kw_only=True)
class RequestTimedOutEvent(WorkflowEvent):
    """A request got no response within its port's timeout; it is closed (P8)."""

    type: ClassVar[str] = "request_timed_out"
    request_id: str
    port_id: str
    waited_seconds: float = 0.0


@dataclass(kw_only=True)
class DelayStartedEvent(WorkflowEvent):
    """A message reached a `Delay`: it is forwarded after `seconds` (C2)."""

    type: ClassVar[str] = "delay_started"
    timer_id: str
    delay_id: str
    seconds: float = 0.0


@dataclass(kw_only=True)
class DelayElapsedEvent(WorkflowEvent):
    """A delay's timer fired; its message goes on to the delay's successors (C2)."""

    type: ClassVar[str] = "delay_elapsed"
    timer_id: str
    delay_id: str


@dataclass(kw_only=True)
class WorkflowCompletedEvent(WorkflowEvent):
    """The run finished. `result` is the last output (or None); `outputs` lists them all."""

    type: ClassVar[str] = "workflow_completed"
    value_fields: ClassVar[tuple[str, ...]] = ("result", "outputs")
    result: Any = None
    outputs: list[Any] = dataclasses.field(default_factory=list)
    unfired_barriers: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    """Fan-in barriers (by target) still holding messages at the end: source -> count."""


@dataclass(kw_only=True)
class WorkflowFailedEvent(WorkflowEvent):
    """The run failed; `executor_id` names the failing node when there is one."""

    type: ClassVar[str] = "workflow_failed"
    error: str
    error_type: str = "Exception"
    executor_id: str | None = None


EVENT_TYPES: dict[str, type[WorkflowEvent]] = {
    cls.type: cls
    for cls in (
        WorkflowStartedEvent,
        ExecutorInvokedEvent,
        ExecutorCompletedEvent,
        ExecutorFailedEvent,
        WorkflowOutputEvent,
        CustomEvent,
        WaitingForInputEvent,
        ResponseReceivedEvent,
        ResponseRefusedEvent,
        RequestTimedOutEvent,
        DelayStartedEvent,
        DelayElapsedEvent,
        WorkflowCompletedEvent,
        WorkflowFailedEvent,
    )
}

TERMINAL_EVENTS = (WorkflowCompletedEvent, WorkflowFailedEvent)


def event_from_dict(data: dict[str, Any], registry: TypeRegistry) -> WorkflowEvent:
    """Rebuild an event from `WorkflowEvent.to_dict()` data."""
    cls = EVENT_TYPES[data["type"]]
    kwargs = {k: v for k, v in data.items() if k != "type"}
    for name in cls.value_fields:
        if name not in kwargs:
            continue
        if name == "outputs":
            kwargs[name] = [registry.decode(item) for item in kwargs[name]]
        else:
            kwargs[name] = registry.decode(kwargs[name])
    return cls(**kwargs)
