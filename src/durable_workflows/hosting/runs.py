"""Handles on runs: status, results, responses, events (what `WorkflowClient` hands out).

A handle needs only the client's durabletask client (error-mapped) and its payload limit
(`RunOwner`), so it can be made by any client that has them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..durable.names import EVENT_LOG_ENTITY, SHARED_STATE_ENTITY, event_chunk_key
from ..durable.payloads import check_payload, payload_size
from ..errors import (
    InvalidResponseError,
    SerializationError,
    WorkflowFailedError,
    WorkflowNotFoundError,
)
from ..graph.workflow import Workflow
from ..runtime.engine import Engine
from ..runtime.events import (
    TERMINAL_EVENTS,
    WaitingForInputEvent,
    WorkflowEvent,
    WorkflowFailedEvent,
    event_from_dict,
)
from ..runtime.state import PendingRequest
from ..runtime.state import RunState as EngineState
from ..values.serialization import to_json
from ..values.typing_utils import short_name
from .run_info import RunState, run_state, split_failure, utc
from .verdicts import ACTIVE, already_answered, custom_status
from .waiting import pause_for_change, wait_for_verdict, wait_until_ended, watch

_UNKNOWN = object()
"""The response type of a request whose port the workflow as defined here does not have."""

_POLL_MIN, _POLL_MAX = 0.01, 0.25
"""Backoff of status reads (`watch_stream`, `wait_until_settled`) when the client cannot be
woken by the backend (seconds)."""


class RunOwner(Protocol):
    """What a run handle uses of the client that made it."""

    max_payload_bytes: int
    """Responses over this many bytes are refused."""

    @property
    def _rpc(self) -> Any:
        """The durabletask async client, its errors mapped to the library's."""


@dataclass
class RunStatus:
    """A snapshot of a run."""

    run_id: str
    status: str
    """``RUNNING``, ``COMPLETED``, ``FAILED``, ``TERMINATED``, ``PENDING`` or ``SUSPENDED``."""
    superstep: int = 0
    last_sequence: int = 0
    pending_requests: list[WaitingForInputEvent] = field(default_factory=list)
    error: str | None = None
    created_at: datetime | None = None
    """When the run started (UTC)."""
    updated_at: datetime | None = None
    """When the run last changed (UTC)."""
    streamed: bool = False
    """Whether the run records its events (started with `stream()`)."""
    version: str | None = None
    """The workflow version the run is pinned to (docs/versioning.md)."""

    @property
    def is_active(self) -> bool:
        """True while the run may still make progress."""
        return self.status in ACTIVE

    @property
    def state(self) -> RunState:
        """``pending``, ``running``, ``waiting`` (for responses), ``completed``, ``failed`` or
        ``cancelled``."""
        return run_state(self.status, bool(self.pending_requests))


class WorkflowRun:
    """A handle on one run."""

    def __init__(self, client: RunOwner, workflow: Workflow, run_id: str) -> None:
        self.client = client
        self.workflow = workflow
        self.run_id = run_id
        self.outputs: list[Any] = []
        """All outputs, once `wait_for_completion` returned."""

    def __repr__(self) -> str:
        done = f", outputs={len(self.outputs)}" if self.outputs else ""
        return f"{type(self).__name__}(run_id={self.run_id!r}, workflow={self.workflow.name!r}{done})"

    @property
    def _durable(self) -> Any:
        return self.client._rpc

    async def get_status(self) -> RunStatus:
        """The run's current status, superstep and pending requests."""
        return self._status(await self._state())

    async def _state(self) -> Any:
        """The run's state; its input and output only until its first status says whether
        it streams (a run's payloads can be megabytes, and statuses are polled)."""
        state = await self._durable.get_orchestration_state(self.run_id, fetch_payloads=False)
        if state is not None and "stream" not in custom_status(state):
            state = await self._durable.get_orchestration_state(self.run_id, fetch_payloads=True)
        if state is None:
            raise WorkflowNotFoundError(f"no run with id {self.run_id!r}")
        return state

    def _status(self, state: Any) -> RunStatus:
        custom = custom_status(state)
        status = state.runtime_status.name
        requests = [self._request(r) for r in custom.get("requests", [])]
        error = state.failure_details.message if state.failure_details else None
        return RunStatus(
            self.run_id,
            status,
            custom.get("superstep", 0),
            custom.get("sequence", 0),
            requests if status in ACTIVE else [],  # an ended run waits for nothing (P2)
            error,
            created_at=utc(state.created_at),
            updated_at=utc(state.last_updated_at),
            streamed=is_streamed(state, custom),
            version=run_version(state, custom),
        )

    def _request(self, data: dict[str, Any]) -> WaitingForInputEvent:
        """A pending request from the status. If the graph changed since the run started (its
        port or request type is not in this workflow), it is shown as far as known: the raw
        request data, and a response type that says so."""
        expected = self._response_type(data)
        response_type = (
            short_name(expected)
            if expected is not _UNKNOWN
            else f"unknown (port not in workflow {self.workflow.name!r} as defined here)"
        )
        try:
            request = self.workflow.registry.decode(data["request"])
        except SerializationError:
            request = data["request"].get("data")
        return WaitingForInputEvent(
            run_id=self.run_id,
            request_id=data["request_id"],
            port_id=data["port_id"],
            request=request,
            response_type=response_type,
        )

    def _response_type(self, data: dict[str, Any]) -> Any:
        """The response type of a pending request in the status (`_UNKNOWN` if the workflow as
        defined here has no such port or asked type: the graph changed)."""
        try:
            return self.workflow.response_type(data["port_id"], data.get("response_type"))
        except KeyError:
            return _UNKNOWN

    async def pending_requests(self) -> list[WaitingForInputEvent]:
        """The requests waiting for a response."""
        return (await self.get_status()).pending_requests

    async def wait_until_settled(self, timeout: float, *, answered: str | None = None) -> RunStatus:
        """The run's status once it has ended or waits for input, or after `timeout` seconds
        (when it may still be running). With `answered`, a run still waiting for that request
        (an answer sent but not yet taken) has not settled."""

        def settled(state: Any) -> bool:
            status = self._status(state)
            return status.state not in ("pending", "running") and all(
                r.request_id != answered for r in status.pending_requests
            )

        state, _ = await watch(
            self._state, settled, self._durable, timeout,
            first=_POLL_MIN, longest=_POLL_MAX, custom=True,
        )
        return self._status(state)

    async def wait_for_completion(self, timeout: float | None = None) -> Any:
        """Wait for the run to end; return its result (the last output, or None).

        All outputs are then in `run.outputs`. Raises `WorkflowFailedError` if the run failed
        or was terminated, and `TimeoutError` after `timeout` seconds.
        """
        state = await wait_until_ended(self._durable, self.run_id, timeout)
        if state.runtime_status.name == "COMPLETED":
            data = json.loads(state.serialized_output)
            self.outputs = [self.workflow.registry.decode(v) for v in data["outputs"]]
            return self.workflow.registry.decode(data["result"])
        error = (
            state.failure_details.message if state.failure_details else state.runtime_status.name
        )
        executor_id, error = split_failure(error)
        raise WorkflowFailedError(self.run_id, error, executor_id)

    async def send_response(
        self, request: WaitingForInputEvent | str, response: Any, *, timeout: float | None = None
    ) -> None:
        """Answer a pending request; returns once the run has taken the response.

        Refused with `InvalidResponseError` when the request is unknown or already answered
        (of two concurrent answers exactly one is taken, P7), the response has the wrong
        type, or the run has ended. Raises `TimeoutError` if the run has not decided within
        `timeout` seconds (its workers are down or busy): the response stays queued, and
        sending it again is safe (the second one is refused if the first was taken).
        """
        request_id = request if isinstance(request, str) else request.request_id
        state = await self._state()
        status = self._status(state)
        answered = already_answered(state, self.run_id, request_id)
        if answered is not None:  # P7, also once the run has ended
            raise answered
        if not status.is_active:
            msg = f"run {self.run_id!r} is {status.status}; it no longer accepts responses"
            raise InvalidResponseError(msg)
        pending = {r.request_id: r for r in status.pending_requests}
        if request_id not in pending:
            msg = f"run {self.run_id!r} has no pending request {request_id!r} (pending: {sorted(pending) or 'none'})"
            raise InvalidResponseError(msg)
        [entry] = [r for r in custom_status(state)["requests"] if r["request_id"] == request_id]
        expected = self._response_type(entry)
        if expected is _UNKNOWN:
            msg = (
                f"request {request_id!r} of run {self.run_id!r} waits at port "
                f"{pending[request_id].port_id!r}, which is not in workflow "
                f"{self.workflow.name!r} as this client defines it: the graph changed since the "
                "run started. Answer it with the workflow definition the run was started with."
            )
            raise InvalidResponseError(msg)
        value = Engine(self.workflow).check_response(
            PendingRequest(request_id, entry["port_id"], None, 0, response_type=expected), response
        )
        envelope = self.workflow.registry.encode(value, (expected,))
        what = f"The response to request {request_id!r} of run {self.run_id!r}"
        check_payload(payload_size({"response": envelope}), self.client.max_payload_bytes, what)
        token = uuid.uuid4().hex
        # a sub-workflow's request is answered at the child run that owns it (W4)
        owner = entry.get("instance_id", self.run_id)
        inner = entry.get("inner_id", request_id)
        await self._durable.raise_orchestration_event(
            owner, inner, data={"response": envelope, "token": token}
        )
        await wait_for_verdict(self._durable, owner, inner, token, timeout)

    async def raise_event(self, name: str, payload: Any) -> None:
        """Answer the one request open at port `name` with a named event carrying `payload`
        as plain JSON, the way the Agent Framework samples do (docs/semantics.md P10).

        Raises `InvalidResponseError` when `name` is not a port of the workflow, when not
        exactly one request is open there, or when `payload` does not fit the port's response
        type. Returns once the event is sent; the run judges it on arrival and records a
        refusal as a `ResponseRefusedEvent` (the request is then still open).
        """
        state = await self._state()
        status = self._status(state)
        if not status.is_active:
            msg = f"run {self.run_id!r} is {status.status}; it no longer accepts events"
            raise InvalidResponseError(msg)
        engine = Engine(self.workflow)
        owner, event_name = self.run_id, name
        if "/" in name:  # a port of a sub-workflow's child run: raised on that run (W4)
            here = [e for e in custom_status(state).get("requests", []) if e["port_id"] == name]
            if len(here) != 1:
                ids = ", ".join(e["request_id"] for e in here) or "none"
                msg = f"event {name!r}: {len(here)} requests are open at port {name!r} ({ids})"
                raise InvalidResponseError(msg)
            owner, event_name = here[0]["instance_id"], name.rsplit("/", 1)[1]
        else:
            pending = [(r.request_id, r.port_id) for r in status.pending_requests]
            open_state = EngineState(
                requests={rid: PendingRequest(rid, port, None, 0) for rid, port in pending}
            )
            engine.event_request(open_state, name)
        value = engine.coerce_response(name, payload)
        data = to_json(value, self.workflow.response_type(name))
        await self._durable.raise_orchestration_event(owner, event_name, data=data)

    async def cancel(self, reason: str = "cancelled") -> None:
        """Terminate the run, and the child runs of its sub-workflows (W5)."""
        from durabletask.entities import EntityInstanceId

        await self._durable.terminate_orchestration(self.run_id, output=reason, recursive=True)
        # a terminated run cannot drop its stored shared state itself
        shared = EntityInstanceId(SHARED_STATE_ENTITY, self.run_id)
        await self._durable.signal_entity(shared, "delete")


class StreamingWorkflowRun(WorkflowRun):
    """A run started with `client.stream()`: its events are recorded and can be watched."""

    async def watch_stream(self, from_sequence: int = 0) -> AsyncGenerator[WorkflowEvent, None]:
        """Every event after `from_sequence`, exactly once and in order, until the run ends."""
        cursor = from_sequence
        delay = _POLL_MIN
        while True:
            state = await self._state()
            status = self._status(state)
            progressed = False
            while cursor < status.last_sequence:
                events = await self._read_chunk(cursor + 1)
                fresh = [e for e in events if e.sequence > cursor]
                if not fresh or fresh[0].sequence != cursor + 1:
                    break
                for event in fresh:
                    if event.sequence != cursor + 1:
                        break
                    cursor = event.sequence
                    progressed = True
                    yield event
                    if isinstance(event, TERMINAL_EVENTS):
                        return
            if not status.is_active and not progressed and cursor >= status.last_sequence:
                yield WorkflowFailedEvent(
                    run_id=self.run_id, sequence=cursor + 1, error=status.error or status.status
                )
                return
            if progressed:
                delay = _POLL_MIN
                continue
            delay = min(_POLL_MAX, delay * 2)
            if cursor < status.last_sequence:  # announced, not yet in the event log: poll
                await asyncio.sleep(delay)
            else:  # the custom status announces new events
                await pause_for_change(self._durable, state, delay, None, custom=True)

    async def recorded_events(self, after: int = 0) -> list[WorkflowEvent]:
        """The events recorded so far after sequence `after`, in order (does not wait)."""
        events: list[WorkflowEvent] = []
        cursor = after
        while True:
            fresh = [e for e in await self._read_chunk(cursor + 1) if e.sequence > cursor]
            if not fresh or fresh[0].sequence != cursor + 1:
                return events
            for event in fresh:
                if event.sequence != cursor + 1:
                    return events
                events.append(event)
                cursor = event.sequence

    async def _read_chunk(self, sequence: int) -> list[WorkflowEvent]:
        from durabletask.entities import EntityInstanceId

        key = event_chunk_key(self.run_id, sequence)
        metadata = await self._durable.get_entity(EntityInstanceId(EVENT_LOG_ENTITY, key))
        if metadata is None:
            return []
        raw = metadata.get_state()
        if not raw:
            return []  # the entity exists but has not processed its first append yet
        data = json.loads(raw) if isinstance(raw, str) else raw
        registry = self.workflow.registry
        return sorted((event_from_dict(e, registry) for e in data), key=lambda e: e.sequence)


def is_streamed(state: Any, custom: dict[str, Any]) -> bool:
    """Whether a run records its events (from its status; before its first step, its input)."""
    if "stream" in custom:
        return bool(custom["stream"])
    return bool(json.loads(state.serialized_input or "{}").get("stream"))


def run_version(state: Any, custom: dict[str, Any]) -> str | None:
    """The workflow version a run is pinned to (from its status; before its first step, its
    input; None for a run started before runs recorded one)."""
    version = custom.get("version") or json.loads(state.serialized_input or "{}").get("version")
    return str(version) if version else None
