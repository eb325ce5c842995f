"""The client: start runs and find them again; the handles it returns are in `runs`.

Modelled on .NET's `IWorkflowClient`. Events are read from the run's event log (entities
written by the orchestrator), so streams resume by sequence number and have no size cap.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from ..durable.names import (
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
    InvalidRunIdError,
    RunAlreadyExistsError,
    WorkflowNotFoundError,
)
from ..graph.workflow import Workflow
from ..runtime.engine import Engine
from .connection import ConnectionSettings, parse_connection_string
from .orchestration_client import OrchestrationClientMixin
from .retention import purge_runs
from .rpc_errors import MappedClient
from .run_info import (
    RunState,
    RunSummary,
    list_runs,
    summarize,
)
from .runs import StreamingWorkflowRun, WorkflowRun, is_streamed, run_version
from .verdicts import custom_status

IfExists = Literal["error", "return"]
"""What starting a run with the id of an existing run does: raise, or return that run."""


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
                run_class = StreamingWorkflowRun if is_streamed(state, custom) else WorkflowRun
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
        version = run_version(state, custom)
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
