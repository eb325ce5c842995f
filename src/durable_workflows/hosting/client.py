"""The client: start runs, wait for results, stream events, answer requests.

Modelled on .NET's `IWorkflowClient`. Events are read from the run's event log (entities
written by the orchestrator), so streams resume by sequence number and have no size cap.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from ..durable.names import (
    EVENT_LOG_ENTITY,
    SHARED_STATE_ENTITY,
    event_chunk_key,
    orchestrator_name,
)
from ..durable.orchestrator import start_payload
from ..durable.payloads import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    check_payload,
    default_max_payload_bytes,
    payload_size,
)
from ..durable.telemetry import starting
from ..errors import (
    DurableWorkflowsError,
    InvalidResponseError,
    InvalidRunIdError,
    RunAlreadyExistsError,
    SerializationError,
    WorkflowFailedError,
    WorkflowNotFoundError,
)
from ..graph.workflow import Workflow
from ..runtime.engine import Engine, PendingRequest
from ..runtime.engine import RunState as EngineState
from ..runtime.events import (
    TERMINAL_EVENTS,
    WaitingForInputEvent,
    WorkflowEvent,
    WorkflowFailedEvent,
    event_from_dict,
)
from ..values.serialization import to_json
from ..values.typing_utils import short_name
from .connection import ConnectionSettings, parse_connection_string
from .orchestration_client import OrchestrationClientMixin
from .retention import purge_runs
from .rpc_errors import MappedClient
from .run_info import (
    RunState,
    RunSummary,
    list_runs,
    run_state,
    split_failure,
    summarize,
    utc,
)
from .verdicts import ACTIVE, already_answered, custom_status
from .waiting import pause_for_change, wait_for_verdict, wait_until_ended

_UNKNOWN = object()
"""The response type of a request whose port the workflow as defined here does not have."""

IfExists = Literal["error", "return"]
"""What starting a run with the id of an existing run does: raise, or return that run."""

_POLL_MIN, _POLL_MAX = 0.01, 0.25
"""Backoff of `wait_for_completion`'s status polls (seconds)."""


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


class WorkflowClient(OrchestrationClientMixin):
    """Starts and follows runs of the given workflows through a durabletask async client;
    also starts hand-written orchestrations (`run_orchestration`).

    `previous_versions` are older definitions of those workflows whose runs may still be in
    flight: handles on such runs decode their requests and results with the run's version.
    With ``served_only=True`` (a host's client) it starts runs only of those workflows (and
    versions), since no worker serves any other; otherwise `run` and `stream` make a workflow
    known. Backend failures are raised as `BackendError`s naming the run, `address` and the
    fix. Inputs and responses over `max_payload_bytes` are refused with `PayloadTooLargeError`.
    """

    def __init__(
        self,
        durable_client: Any,
        workflows: Iterable[Workflow] = (),
        *,
        previous_versions: Iterable[Workflow] = (),
        served_only: bool = False,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        address: str | None = None,
    ) -> None:
        self._client = durable_client
        self._workflows: dict[str, Workflow] = {}
        self._versions: dict[str, dict[str, Workflow]] = {}
        for workflow in (*workflows, *previous_versions):
            self.add_workflow(workflow)
        self._served_only = served_only
        self.max_payload_bytes = max_payload_bytes
        self._rpc = MappedClient(
            durable_client, address or getattr(durable_client, "_host_address", None)
        )

    @classmethod
    def from_connection_string(
        cls,
        connection_string: str | ConnectionSettings,
        workflows: Iterable[Workflow] = (),
        *,
        logger: logging.Logger | None = None,
    ) -> WorkflowClient:
        """A client for a Durable Task Scheduler connection string or a sidecar address (or
        their parsed settings), with the backend's payload limit."""
        from .factories import create_client

        settings = (
            connection_string
            if isinstance(connection_string, ConnectionSettings)
            else parse_connection_string(connection_string)
        )
        durable = create_client(settings, asynchronous=True, logger=logger)
        limit = default_max_payload_bytes(settings.is_scheduler)
        return cls(durable, workflows, max_payload_bytes=limit, address=str(settings))

    @property
    def durable_client(self) -> Any:
        """The underlying durabletask async client."""
        return self._client

    def add_workflow(self, workflow: Workflow) -> None:
        """Make `workflow` known, so runs of it can be looked up by id (the first workflow of
        a name is its current one; later ones add versions)."""
        self._workflows.setdefault(workflow.name, workflow)
        self._versions.setdefault(workflow.name, {}).setdefault(workflow.version, workflow)

    async def run(
        self,
        workflow: Workflow,
        input: Any,
        run_id: str | None = None,
        *,
        if_exists: IfExists = "error",
    ) -> WorkflowRun:
        """Start a run; `await run.wait_for_completion()` gives its result.

        With the `run_id` of an existing run, ``if_exists="error"`` raises
        `RunAlreadyExistsError`; ``"return"`` returns that run if it is a run of `workflow`
        started with an equal input in the same mode (else `RunAlreadyExistsError`), so a
        retried start never starts a second run.
        """
        return await self._start(workflow, input, run_id, stream=False, if_exists=if_exists)

    async def stream(
        self,
        workflow: Workflow,
        input: Any,
        run_id: str | None = None,
        *,
        if_exists: IfExists = "error",
    ) -> StreamingWorkflowRun:
        """Start a run whose events can be watched with `run.watch_stream()` (`if_exists` as
        in `run`)."""
        run = await self._start(workflow, input, run_id, stream=True, if_exists=if_exists)
        return StreamingWorkflowRun(self, workflow, run.run_id)

    async def list_runs(
        self,
        workflow: Workflow | str | None = None,
        status: RunState | Iterable[RunState] | None = None,
        created_after: datetime | None = None,
        limit: int = 100,
    ) -> list[RunSummary]:
        """Recent runs, newest first: of one workflow (or all), in the given state(s), started
        after `created_after` (naive datetimes are UTC); at most `limit`."""
        name = workflow.name if isinstance(workflow, Workflow) else workflow
        return await list_runs(
            self._rpc, workflow=name, status=status, created_after=created_after, limit=limit
        )

    async def purge_runs(self, older_than: timedelta | datetime) -> int:
        """Delete the runs that finished more than `older_than` ago (or before that moment),
        with the event logs of streamed runs; returns how many were deleted. Active runs are
        never deleted."""
        return await purge_runs(self._client, older_than)

    async def get_run(self, run_id: str) -> WorkflowRun:
        """A handle on an existing run of a workflow this client knows.

        Runs started with `stream()` come back as a `StreamingWorkflowRun`.
        """
        state = await self._rpc.get_orchestration_state(run_id, fetch_payloads=True)
        if state is None:
            raise WorkflowNotFoundError(f"no run with id {run_id!r}")
        custom = custom_status(state)
        for workflow in self._workflows.values():
            if orchestrator_name(workflow.name) == state.name:
                run_class = StreamingWorkflowRun if _streamed(state, custom) else WorkflowRun
                return run_class(self, self._version_of(workflow, state, custom), run_id)
        known = ", ".join(repr(name) for name in sorted(self._workflows)) or "none"
        summary = summarize(state)
        what = f"of workflow {summary.workflow!r}" if summary else "not a workflow run"
        msg = f"run {run_id!r} is {what}, which is not one of this client's workflows ({known})"
        raise WorkflowNotFoundError(msg)

    async def export_history(
        self, run_id: str, path: str | os.PathLike[str] | None = None
    ) -> dict[str, Any]:
        """A run's recorded history as JSON data (also written to `path` if given).

        Replay it against new code before deploying: ``testing.replay(workflow, history)``.
        """
        from .history import export_history

        versions = {
            f"{name}@{version}": workflow
            for name, by_version in self._versions.items()
            for version, workflow in by_version.items()
        }
        document = await export_history(self._client, run_id, versions)
        if path is not None:
            Path(path).write_text(json.dumps(document, indent=1), encoding="utf-8")
        return document

    async def close(self) -> None:
        """Close the connection."""
        await self._client.close()

    def _version_of(self, workflow: Workflow, state: Any, custom: dict[str, Any]) -> Workflow:
        """The version of `workflow` a run was started with, if this client knows it (else the
        current one: its requests and results may then not decode)."""
        version = _run_version(state, custom)
        return self._versions.get(workflow.name, {}).get(version or "", workflow)

    async def _start(
        self,
        workflow: Workflow,
        input: Any,
        run_id: str | None,
        *,
        stream: bool,
        if_exists: IfExists,
    ) -> WorkflowRun:
        if if_exists not in ("error", "return"):
            raise DurableWorkflowsError(f"if_exists must be 'error' or 'return', not {if_exists!r}")
        if self._served_only:
            self._check_served(workflow)
        self.add_workflow(workflow)
        if run_id is not None:
            check_run_id(run_id)
        message = Engine(workflow).coerce_input(input)
        envelope = workflow.registry.encode(message, workflow.input_types)
        payload = start_payload(workflow, envelope, stream=stream)
        if run_id is None:
            run_id = uuid.uuid4().hex
        else:
            existing = await self._rpc.get_orchestration_state(run_id, fetch_payloads=True)
            if existing is not None:
                return self._existing(workflow, run_id, existing, payload, if_exists)
        what = f"The input of run {run_id!r} of workflow {workflow.name!r}"
        check_payload(payload_size(payload), self.max_payload_bytes, what)
        try:
            with starting(workflow.name, workflow.version, run_id) as trace:
                if trace:
                    payload["trace"] = trace
                await self._rpc.schedule_new_orchestration(
                    orchestrator_name(workflow.name),
                    input=payload,
                    instance_id=run_id,
                    version=workflow.version,
                )
        except Exception as exc:  # a concurrent start with the same id won the race
            existing = await self._rpc.get_orchestration_state(run_id, fetch_payloads=True)
            if existing is None or not _already_exists(exc):
                raise
            return self._existing(workflow, run_id, existing, payload, if_exists)
        return WorkflowRun(self, workflow, run_id)

    def _check_served(self, workflow: Workflow) -> None:
        served = self._versions.get(workflow.name, {}).get(workflow.version)
        if served is not None and served.graph_hash == workflow.graph_hash:
            return
        served = self._workflows.get(workflow.name)
        known = ", ".join(repr(name) for name in sorted(self._workflows)) or "none"
        if served is None:
            problem = f"workflow {workflow.name!r} is not one of the host's workflows ({known})"
        else:
            problem = (
                f"workflow {workflow.name!r} differs from the one the host was given "
                f"(graph hash {workflow.graph_hash}, the host's is {served.graph_hash})"
            )
        msg = f"{problem}: no worker would run it. Give it to the host: DurableWorkflowHost(workflows=[...])"
        raise WorkflowNotFoundError(msg)

    def _existing(
        self,
        workflow: Workflow,
        run_id: str,
        state: Any,
        payload: dict[str, Any],
        if_exists: IfExists,
    ) -> WorkflowRun:
        """The existing run `state` if `if_exists` allows returning it, else raise."""
        if if_exists == "error":
            raise RunAlreadyExistsError(run_id, "pass if_exists='return' to get it instead")
        if state.name != orchestrator_name(workflow.name):
            raise RunAlreadyExistsError(run_id, f"it is not a run of {workflow.name!r}")
        stored = json.loads(state.serialized_input or "{}")
        if stored.get("input_digest") != payload["input_digest"]:
            raise RunAlreadyExistsError(run_id, "it was started with a different input")
        streamed = bool(stored.get("stream"))
        if streamed != payload["stream"]:
            how = "with" if streamed else "without"
            raise RunAlreadyExistsError(run_id, f"it was started {how} streaming")
        run_class = StreamingWorkflowRun if streamed else WorkflowRun
        return run_class(self, self._version_of(workflow, state, {}), run_id)


class WorkflowRun:
    """A handle on one run."""

    def __init__(self, client: WorkflowClient, workflow: Workflow, run_id: str) -> None:
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
            streamed=_streamed(state, custom),
            version=_run_version(state, custom),
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
            delay = _POLL_MIN if progressed else min(_POLL_MAX, delay * 2)
            if not progressed:  # new events show in the custom status
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


def _streamed(state: Any, custom: dict[str, Any]) -> bool:
    """Whether a run records its events (from its status; before its first step, its input)."""
    if "stream" in custom:
        return bool(custom["stream"])
    return bool(json.loads(state.serialized_input or "{}").get("stream"))


def _run_version(state: Any, custom: dict[str, Any]) -> str | None:
    """The workflow version a run is pinned to (from its status; before its first step, its
    input; None for a run started before runs recorded one)."""
    version = custom.get("version") or json.loads(state.serialized_input or "{}").get("version")
    return str(version) if version else None


def _already_exists(exc: Exception) -> bool:
    """Whether a (gRPC) error says the instance id is taken."""
    if isinstance(exc, RunAlreadyExistsError):
        return True
    code = getattr(exc, "code", None)
    return callable(code) and getattr(code(), "name", "") == "ALREADY_EXISTS"


def check_run_id(run_id: str) -> None:
    """Refuse a run id the backend would misread, with `InvalidRunIdError`."""
    if not run_id.strip():
        raise InvalidRunIdError("A run id must not be empty; leave it out for a random one.")
    if "@" in run_id:
        msg = (
            f"The run id {run_id!r} contains '@', which Durable Task reserves for entity ids "
            "(@name@key): a run's event log and agent threads are entities keyed by the run id. "
            "Use an id without '@'."
        )
        raise InvalidRunIdError(msg)
    if any(ord(c) < 32 or ord(c) == 127 for c in run_id):
        msg = f"The run id {run_id!r} contains a control character; use printable characters."
        raise InvalidRunIdError(msg)
