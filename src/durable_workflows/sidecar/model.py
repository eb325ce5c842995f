"""In-memory mirror of the persisted sidecar state, and history-event builders."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from durabletask.internal import orchestrator_service_pb2 as _pb
from google.protobuf import timestamp_pb2, wrappers_pb2

pb: Any = _pb
"""The generated protobuf module (untyped)."""

HistoryEvent = Any
"""A ``HistoryEvent`` protobuf message (the generated classes are untyped)."""

PENDING: int = pb.ORCHESTRATION_STATUS_PENDING
RUNNING: int = pb.ORCHESTRATION_STATUS_RUNNING
COMPLETED: int = pb.ORCHESTRATION_STATUS_COMPLETED
FAILED: int = pb.ORCHESTRATION_STATUS_FAILED
TERMINATED: int = pb.ORCHESTRATION_STATUS_TERMINATED
SUSPENDED: int = pb.ORCHESTRATION_STATUS_SUSPENDED
CONTINUED_AS_NEW: int = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, TERMINATED})


@dataclass
class Message:
    """A persisted event waiting in an orchestration's or entity's inbox."""

    rowid: int
    event: HistoryEvent


@dataclass(frozen=True)
class ParentRef:
    """Where a sub-orchestration reports its result."""

    instance_id: str
    execution_id: str
    task_id: int


@dataclass
class Instance:
    """One orchestration instance (current execution)."""

    instance_id: str
    name: str
    status: int
    execution_id: str
    created_at: float
    updated_at: float
    version: str | None = None
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    completed_at: float | None = None
    failure: Any = None
    tags: dict[str, str] = field(default_factory=dict)
    parent: ParentRef | None = None
    history: list[HistoryEvent] | None = field(default_factory=list)
    """Loaded history, or ``None`` when only the database holds it (terminal instances)."""
    history_len: int = 0
    inbox: list[Message] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        """Whether the instance reached COMPLETED, FAILED or TERMINATED."""
        return self.status in TERMINAL_STATUSES


@dataclass
class Activity:
    """A scheduled activity not yet reported complete."""

    activity_id: int
    instance_id: str
    execution_id: str
    name: str
    task_id: int
    input: str | None
    version: str | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Entity:
    """A durable entity: its state, lock and operation inbox."""

    entity_id: str
    state: str | None = None
    updated_at: float = field(default_factory=time.time)
    locked_by: str | None = None
    """Critical-section id holding the lock."""
    lock_owner: str | None = None
    """Orchestration instance id holding the lock."""
    inbox: list[Message] = field(default_factory=list)


@dataclass
class LockRequest:
    """An orchestration's request to lock a set of entities, waiting to be granted."""

    rowid: int
    critical_section_id: str
    owner: str
    lock_set: list[str]
    barrier: int
    """Inbox messages up to this row id must be processed before the lock is granted."""


@dataclass
class Delayed:
    """An event to deliver at ``fire_at`` (timers, scheduled starts, delayed signals)."""

    rowid: int
    fire_at: float
    kind: str
    """``"o"`` for an orchestration target, ``"e"`` for an entity target."""
    target: str
    execution_id: str | None
    event: HistoryEvent


def now_ts(at: float | None = None) -> Any:
    """A protobuf ``Timestamp`` for ``at`` (default: now)."""
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int((time.time() if at is None else at) * 1e9))
    return ts


def string_value(value: str | None) -> Any:
    """A ``StringValue`` wrapper, or ``None`` for ``None``."""
    return None if value is None else wrappers_pb2.StringValue(value=value)


def optional_str(message: Any, name: str) -> str | None:
    """The string inside wrapper field ``name`` of ``message``, if set."""
    return str(getattr(message, name).value) if message.HasField(name) else None


def optional_field(message: Any, name: str) -> Any:
    """Field ``name`` of ``message``, or None when it is unset."""
    return getattr(message, name) if message.HasField(name) else None


def optional_time(message: Any, name: str) -> float | None:
    """Seconds since the epoch in timestamp field ``name`` of ``message``, if set."""
    return getattr(message, name).ToNanoseconds() / 1e9 if message.HasField(name) else None


def orchestration_instance(instance_id: str, execution_id: str) -> Any:
    """An ``OrchestrationInstance`` message naming one execution of an instance."""
    return pb.OrchestrationInstance(instanceId=instance_id,
                                    executionId=string_value(execution_id))


def new_event(**kwargs: Any) -> HistoryEvent:
    """A history event stamped with the current time and ``eventId=-1``."""
    return pb.HistoryEvent(eventId=-1, timestamp=now_ts(), **kwargs)


def orchestrator_started(at: float | None = None) -> HistoryEvent:
    """An ``orchestratorStarted`` event (its timestamp is the replay's current time)."""
    return pb.HistoryEvent(
        eventId=-1, timestamp=now_ts(at), orchestratorStarted=pb.OrchestratorStartedEvent()
    )


def execution_started(instance: Instance) -> HistoryEvent:
    """The ``executionStarted`` event for the instance's current execution."""
    parent = None
    if instance.parent is not None:
        parent = pb.ParentInstanceInfo(
            taskScheduledId=instance.parent.task_id,
            orchestrationInstance=orchestration_instance(
                instance.parent.instance_id, instance.parent.execution_id),
        )
    return new_event(
        executionStarted=pb.ExecutionStartedEvent(
            name=instance.name,
            version=string_value(instance.version),
            input=string_value(instance.input),
            orchestrationInstance=orchestration_instance(
                instance.instance_id, instance.execution_id),
            parentInstance=parent,
            tags=instance.tags or None,
        )
    )


def failure_details(error_type: str, message: str) -> Any:
    """A non-retriable ``TaskFailureDetails``."""
    return pb.TaskFailureDetails(errorType=error_type, errorMessage=message, isNonRetriable=True)
