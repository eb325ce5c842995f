"""The client: start runs, wait for results, stream events, answer requests.

Modelled on .NET's `IWorkflowClient`. Events are read from the run's event log (entities
written by the orchestrator), so streams resume by sequence number and have no size cap.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Any

from .durable.names import (
    EVENT_LOG_ENTITY,
    SHARED_STATE_ENTITY,
    event_chunk_key,
    orchestrator_name,
)
from .durable.orchestrator import start_payload
from .durable.payloads import DEFAULT_MAX_PAYLOAD_BYTES, check_payload, payload_size
from .engine import Engine
from .errors import (
    InvalidResponseError,
    InvalidRunIdError,
    WorkflowFailedError,
    WorkflowNotFoundError,
)
from .events import (
    TERMINAL_EVENTS,
    WaitingForInputEvent,
    WorkflowEvent,
    WorkflowFailedEvent,
    event_from_dict,
)
from .rpc_errors import MappedClient
from .typing_utils import short_name
from .workflow import Workflow

_ACTIVE = ("RUNNING", "PENDING", "SUSPENDED", "CONTINUED_AS_NEW")
_POLL_MIN, _POLL_MAX = 0.01, 0.25
_WAIT_MIN, _WAIT_MAX = 0.005, 1.0
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

    @property
    def is_active(self) -> bool:
        """True while the run may still make progress."""
        return self.status in _ACTIVE


class WorkflowClient:
    """Starts and follows runs of the given workflows through a durabletask async client.

    Backend failures are raised as `BackendError`s naming the run, `address` and the fix.
    Inputs and responses over `max_payload_bytes` are refused with `PayloadTooLargeError`.
    """

    def __init__(
        self,
        durable_client: Any,
        workflows: Iterable[Workflow] = (),
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        address: str | None = None,
    ) -> None:
        self._client = durable_client
        self._workflows = {w.name: w for w in workflows}
        self.max_payload_bytes = max_payload_bytes
        self._rpc = MappedClient(
            durable_client, address or getattr(durable_client, "_host_address", None)
        )

    @classmethod
    def from_connection_string(
        cls,
        connection_string: str,
        workflows: Iterable[Workflow] = (),
        *,
        logger: logging.Logger | None = None,
    ) -> WorkflowClient:
        """A client for a Durable Task Scheduler connection string or a sidecar address."""
        from .durable.payloads import default_max_payload_bytes
        from .hosting.connection import parse_connection_string
        from .hosting.factories import create_client

        settings = parse_connection_string(connection_string)
        durable = create_client(settings, asynchronous=True, logger=logger)
        limit = default_max_payload_bytes(settings.is_scheduler)
        return cls(durable, workflows, max_payload_bytes=limit, address=str(settings))

    @property
    def durable_client(self) -> Any:
        """The underlying durabletask async client."""
        return self._client

    def add_workflow(self, workflow: Workflow) -> None:
        """Make `workflow` known, so runs of it can be looked up by id."""
        self._workflows[workflow.name] = workflow

    async def run(self, workflow: Workflow, input: Any, run_id: str | None = None) -> WorkflowRun:
        """Start a run; `await run.wait_for_completion()` gives its result."""
        return await self._start(workflow, input, run_id, stream=False)

    async def stream(
        self, workflow: Workflow, input: Any, run_id: str | None = None
    ) -> StreamingWorkflowRun:
        """Start a run whose events can be watched with `run.watch_stream()`."""
        run = await self._start(workflow, input, run_id, stream=True)
        return StreamingWorkflowRun(self, workflow, run.run_id)

    async def get_run(self, run_id: str) -> WorkflowRun:
        """A handle on an existing run of a workflow this client knows.

        Runs started with `stream()` come back as a `StreamingWorkflowRun`.
        """
        state = await self._rpc.get_orchestration_state(run_id, fetch_payloads=False)
        if state is None:
            raise WorkflowNotFoundError(f"no run with id {run_id!r}")
        custom = json.loads(state.serialized_custom_status or "{}")
        for workflow in self._workflows.values():
            if orchestrator_name(workflow.name) == state.name:
                run_class = StreamingWorkflowRun if custom.get("stream") else WorkflowRun
                return run_class(self, workflow, run_id)
        known = sorted(self._workflows)
        msg = f"run {run_id!r} is of {state.name!r}, which is not one of this client's workflows {known}"
        raise WorkflowNotFoundError(msg)

    async def close(self) -> None:
        """Close the connection."""
        await self._client.close()

    async def _start(
        self, workflow: Workflow, input: Any, run_id: str | None, *, stream: bool
    ) -> WorkflowRun:
        self.add_workflow(workflow)
        if run_id is not None:
            check_run_id(run_id)
        message = Engine(workflow).coerce_input(input)
        envelope = workflow.registry.encode(message, workflow.input_types)
        run_id = run_id or uuid.uuid4().hex
        payload = start_payload(workflow, envelope, stream=stream)
        what = f"The input of run {run_id!r} of workflow {workflow.name!r}"
        check_payload(payload_size(payload), self.max_payload_bytes, what)
        await self._rpc.schedule_new_orchestration(
            orchestrator_name(workflow.name), input=payload, instance_id=run_id
        )
        return WorkflowRun(self, workflow, run_id)


class WorkflowRun:
    """A handle on one run."""

    def __init__(self, client: WorkflowClient, workflow: Workflow, run_id: str) -> None:
        self.client = client
        self.workflow = workflow
        self.run_id = run_id
        self.outputs: list[Any] = []
        """All outputs, once `wait_for_completion` returned."""

    @property
    def _durable(self) -> Any:
        return self.client._rpc

    async def get_status(self) -> RunStatus:
        """The run's current status, superstep and pending requests."""
        state = await self._durable.get_orchestration_state(self.run_id, fetch_payloads=False)
        if state is None:
            raise WorkflowNotFoundError(f"no run with id {self.run_id!r}")
        custom = (
            json.loads(state.serialized_custom_status) if state.serialized_custom_status else {}
        )
        registry = self.workflow.registry
        requests = [
            WaitingForInputEvent(
                run_id=self.run_id,
                request_id=r["request_id"],
                port_id=r["port_id"],
                request=registry.decode(r["request"]),
                response_type=short_name(self.workflow.ports[r["port_id"]].response_type),
            )
            for r in custom.get("requests", [])
        ]
        error = state.failure_details.message if state.failure_details else None
        return RunStatus(
            self.run_id,
            state.runtime_status.name,
            custom.get("superstep", 0),
            custom.get("sequence", 0),
            requests,
            error,
        )

    async def pending_requests(self) -> list[WaitingForInputEvent]:
        """The requests waiting for a response."""
        return (await self.get_status()).pending_requests

    async def wait_for_completion(self, timeout: float | None = None) -> Any:
        """Wait for the run to end; return its result (the last output, or None).

        All outputs are then in `run.outputs`. Raises `WorkflowFailedError` if the run failed
        or was terminated, and `TimeoutError` after `timeout` seconds.
        """
        state = await self._wait_until_done(timeout)
        if state.runtime_status.name == "COMPLETED":
            data = json.loads(state.serialized_output)
            self.outputs = [self.workflow.registry.decode(v) for v in data["outputs"]]
            return self.workflow.registry.decode(data["result"])
        error = (
            state.failure_details.message if state.failure_details else state.runtime_status.name
        )
        executor_id, error = _split_failure(error)
        raise WorkflowFailedError(self.run_id, error, executor_id)

    async def _wait_until_done(self, timeout: float | None) -> Any:
        """Poll the status with backoff until the run ended; then its state with payloads.

        Polling holds no backend thread while it waits, so any number of waiters can wait at
        once (a blocking wait holds one of the sidecar's threads for its whole duration).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = _WAIT_MIN
        while True:
            state = await self._durable.get_orchestration_state(self.run_id, fetch_payloads=False)
            if state is None:
                raise WorkflowNotFoundError(f"no run with id {self.run_id!r}")
            if state.runtime_status.name not in _ACTIVE:
                break
            pause = delay * random.uniform(0.5, 1.0)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    msg = f"run {self.run_id!r} is still {state.runtime_status.name} after {timeout} s"
                    raise TimeoutError(msg)
                pause = min(pause, left)
            await asyncio.sleep(pause)
            delay = min(_WAIT_MAX, delay * 2)
        final = await self._durable.get_orchestration_state(self.run_id, fetch_payloads=True)
        if final is None:
            raise WorkflowNotFoundError(f"no run with id {self.run_id!r}")
        return final

    async def send_response(self, request: WaitingForInputEvent | str, response: Any) -> None:
        """Answer a pending request. Refused with `InvalidResponseError` when the request is
        unknown or answered, the response has the wrong type, or the run has ended."""
        request_id = request if isinstance(request, str) else request.request_id
        status = await self.get_status()
        if not status.is_active:
            msg = f"run {self.run_id!r} is {status.status}; it no longer accepts responses"
            raise InvalidResponseError(msg)
        pending = {r.request_id: r for r in status.pending_requests}
        if request_id not in pending:
            msg = f"run {self.run_id!r} has no pending request {request_id!r} (pending: {sorted(pending) or 'none'})"
            raise InvalidResponseError(msg)
        port = self.workflow.ports[pending[request_id].port_id]
        value = Engine(self.workflow).coerce_response(port, response)
        envelope = self.workflow.registry.encode(value, port.output_types)
        what = f"The response to request {request_id!r} of run {self.run_id!r}"
        check_payload(payload_size({"response": envelope}), self.client.max_payload_bytes, what)
        await self._durable.raise_orchestration_event(
            self.run_id, request_id, data={"response": envelope}
        )

    async def cancel(self, reason: str = "cancelled") -> None:
        """Terminate the run."""
        from durabletask.entities import EntityInstanceId

        await self._durable.terminate_orchestration(self.run_id, output=reason, recursive=False)
        # a terminated run cannot drop its stored shared state itself
        await self._durable.signal_entity(
            EntityInstanceId(SHARED_STATE_ENTITY, self.run_id), "delete"
        )


class StreamingWorkflowRun(WorkflowRun):
    """A run started with `client.stream()`: its events are recorded and can be watched."""

    async def watch_stream(self, from_sequence: int = 0) -> AsyncGenerator[WorkflowEvent, None]:
        """Every event after `from_sequence`, exactly once and in order, until the run ends."""
        cursor = from_sequence
        delay = _POLL_MIN
        while True:
            status = await self.get_status()
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
            await asyncio.sleep(delay)

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


def _split_failure(error: str) -> tuple[str | None, str]:
    """(failing executor, rest of the message) from the orchestrator's failure message."""
    prefix = "executor '"
    if error.startswith(prefix) and "' failed: " in error:
        executor_id, rest = error[len(prefix) :].split("' failed: ", 1)
        return executor_id, rest
    return None, error


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
