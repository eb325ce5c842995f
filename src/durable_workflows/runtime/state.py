"""The state of a run between supersteps, and what a superstep consists of (`engine.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .events import WorkflowEvent


@dataclass
class Delivery:
    """A message on its way to `target`, to be handled in the next superstep."""

    target: str
    message: Any
    source: str


@dataclass
class PendingRequest:
    """A request waiting at a port for its response."""

    request_id: str
    port_id: str
    request: Any
    superstep: int
    deadline: datetime | None = None
    """When the request times out (ports with a timeout, given the driver's clock; P8)."""
    response_type: Any = None
    """For a request an executor made with `ctx.request_info`, the response type it asked for
    (None: a port's request, whose response type is the port's)."""


@dataclass
class PendingTimer:
    """A message held by a `Delay` until `due` (C2)."""

    timer_id: str
    node_id: str
    message: Any
    superstep: int
    due: datetime | None = None


@dataclass
class Invocation:
    """One handler call of a superstep: node `node_id` handles `message`."""

    node_id: str
    message: Any
    source: str
    branch: int
    """Position of this invocation in its superstep (0-based)."""


@dataclass
class Superstep:
    """What `begin_superstep` decided: the invocations to run and the new requests."""

    number: int
    invocations: list[Invocation]
    new_requests: list[PendingRequest]
    events: list[WorkflowEvent]


@dataclass
class RunState:
    """Everything a run carries between supersteps (and across continue-as-new)."""

    run_id: str = ""
    superstep: int = 0
    pending: list[Delivery] = field(default_factory=list)
    barriers: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)
    requests: dict[str, PendingRequest] = field(default_factory=dict)
    outputs: list[Any] = field(default_factory=list)
    halted: bool = False
    timed_out: dict[str, float] = field(default_factory=dict)
    """The most recent timed-out requests: request id -> seconds waited (P9)."""
    timers: dict[str, PendingTimer] = field(default_factory=dict)
    """Messages held by delays, in creation order (C2)."""
