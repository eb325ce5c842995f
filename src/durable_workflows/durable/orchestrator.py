"""The generic orchestrator: one generator that walks any workflow's plan superstep by superstep.

It is a thin driver of `Engine`: it schedules a superstep's executors as activities and its
agents as entity calls, takes request responses as external events (`ResponseIntake`; raced
against port timeouts while the run only waits), publishes events, and continues-as-new every
few supersteps, tasks or megabytes so that history, and so replay cost, stays bounded.
Payloads over the limit fail the run with an error naming them (`payloads`); large shared
state goes by reference (`shared_state`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator
from datetime import datetime
from typing import Any, NoReturn

from ..errors import (
    DurableWorkflowsError,
    ExecutorFailedError,
    RequestTimeoutError,
    WorkflowGraphMismatchError,
    error_type_name,
)
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import uses_tools
from ..model.context import InvocationResult, SentMessage
from ..model.executors import Executor
from ..runtime.engine import Engine, RunState, Superstep
from ..runtime.events import (
    ExecutorFailedEvent,
    WorkflowEvent,
    WorkflowFailedEvent,
    WorkflowStartedEvent,
)
from ..runtime.wire import decode_result, decode_state, encode_message, encode_state
from .names import (
    AGENT_TURN_ORCHESTRATOR,
    EVENT_LOG_ENTITY,
    SHARED_STATE_ENTITY,
    activity_name,
    agent_entity_name,
    event_chunk_key,
    thread_id,
)
from .payloads import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    GENERATION_BYTES,
    SHARED_INLINE_BYTES,
    check_payload,
    payload_size,
)
from .response_formats import format_ref
from .responses import ResponseIntake
from .seam import OrchestrationSeam
from .telemetry import Carrier, RunTelemetry

SUPERSTEPS_PER_GENERATION = 10
"""Continue-as-new after this many supersteps (keeps each replay short: an episode replays its
generation, so a chain step costs ~1.25 ms of CPU at 25 and ~0.8 ms at 10, docs/benchmarks.md)."""

TASKS_PER_GENERATION = 400
"""...or after this many scheduled tasks (wide fan-outs)."""


class DurableRunFailed(DurableWorkflowsError):
    """Raised out of the orchestrator to mark the orchestration FAILED (message says why)."""


def start_payload(workflow: Workflow, input_envelope: Any, *, stream: bool) -> dict[str, Any]:
    """The orchestrator input of a new run.

    ``version`` pins the run to the workflow definition it starts with; ``input_digest``
    identifies the input for idempotent starts. Like every key of the payload they are carried
    over by continue-as-new (which drops ``input`` itself).
    """
    return {
        "version": workflow.version,
        "graph_hash": workflow.graph_hash,
        "input": input_envelope,
        "input_digest": input_digest(input_envelope),
        "state": None,
        "sequence": 0,
        "stream": stream,
        "generation": 0,
        "requested_at": {},
        "verdicts": {},
    }


def input_digest(input_envelope: Any) -> str:
    """A stable digest of an encoded run input (canonical JSON, SHA-256)."""
    text = json.dumps(input_envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class OrchestratorDriver:
    """One episode of the orchestrator for one run (rebuilt on every replay)."""

    def __init__(
        self,
        workflow: Workflow,
        seam: OrchestrationSeam,
        payload: dict[str, Any],
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        shared_by_reference: bool = False,
    ) -> None:
        self.workflow = workflow
        self.engine = Engine(workflow)
        self.seam = seam
        self.payload = payload
        self.sequence: int = payload["sequence"]
        self.stream: bool = payload["stream"]
        self.requested_at: dict[str, str] = dict(payload["requested_at"])
        self.unpublished: list[WorkflowEvent] = []
        self.intake = ResponseIntake(workflow, self.engine, seam, payload.get("verdicts"))
        self.timers: dict[str, Any] = {}
        self.max_payload_bytes = max_payload_bytes
        self.shared_by_reference = shared_by_reference
        self.shared_version: str | None = payload.get("shared_version")
        """The shared-state version stored in the run's `SHARED_STATE_ENTITY`, if any."""
        self.history_bytes = payload_size(payload)
        """Payload bytes this generation put into its history so far."""
        self.telemetry = RunTelemetry(workflow.name, workflow.version, seam, payload)
        self._superstep: int | None = None
        """The superstep being executed (its span ends with a failure)."""

    def run(self) -> Generator[Any, Any, Any]:
        """The orchestrator body: returns the run's result payload, or raises to fail it."""
        self._check_graph()
        try:
            state = yield from self._run_generation()
        except ExecutorFailedError as exc:
            self._emit(
                [
                    ExecutorFailedEvent(
                        executor_id=exc.executor_id,
                        error=exc.error,
                        error_type=exc.error_type,
                        superstep=exc.superstep,
                    )
                ]
            )
            return self._fail(exc.error, exc.error_type, exc.executor_id)
        except DurableWorkflowsError as exc:
            return self._fail(str(exc), error_type_name(type(exc)), None)
        if state is None:
            return None  # continued as new
        completed = self.engine.completion_event(state)
        self._emit([completed])
        self._publish(state)
        self._drop_shared()
        self.telemetry.run_finished(None)
        encode = self.workflow.registry.encode
        return {
            "result": encode(completed.result),
            "outputs": [encode(v) for v in completed.outputs],
            "sequence": self.sequence,
        }

    def _check_graph(self) -> None:
        recorded = self.payload["graph_hash"]
        if recorded != self.workflow.graph_hash:
            msg = (
                f"The workflow definition changed: run {self.seam.instance_id!r} of workflow "
                f"{self.workflow.name!r} version {self.workflow.version!r} was started with "
                f"graph hash {recorded}, but this worker registers that version with hash "
                f"{self.workflow.graph_hash}. Give the changed graph a new version= and keep the "
                "old definition in previous_versions= until its runs finish (docs/versioning.md)."
            )
            raise WorkflowGraphMismatchError(msg)

    def _run_generation(self) -> Generator[Any, Any, RunState | None]:
        state = self._initial_state()
        supersteps = tasks = 0
        while True:
            self._emit(self.intake.route(state))
            if (
                supersteps >= SUPERSTEPS_PER_GENERATION
                or tasks >= TASKS_PER_GENERATION
                or (supersteps and self.history_bytes >= GENERATION_BYTES)  # progress first
            ):
                self._continue_as_new(state)
                return None
            step = self.engine.begin_superstep(state)
            if step is not None:
                self._emit(step.events)
                for request in step.new_requests:
                    self.requested_at[request.request_id] = self.seam.now.isoformat()
                self._publish(state)
                self._superstep = step.number
                trace = self.telemetry.superstep_started(step.number)
                results = yield from self._execute(state, step, trace)
                self._emit(self.engine.finish_superstep(state, step, results))
                self.telemetry.superstep_finished(step.number)
                self._superstep = None
                supersteps += 1
                tasks += len(step.invocations)
            elif self.engine.status(state) == "waiting":
                self._publish(state)
                yield from self._wait_for_responses(state)
                supersteps += 1
            else:
                return state

    def _initial_state(self) -> RunState:
        if self.payload["state"] is not None:
            return decode_state(self.workflow, self.payload["state"])
        message = self.workflow.registry.decode(self.payload["input"])
        state = self.engine.start(message, self.seam.instance_id)
        self.telemetry.run_started()
        self._emit([WorkflowStartedEvent(workflow_name=self.workflow.name)])
        return state

    # -- supersteps ----------------------------------------------------------------------

    def _execute(
        self, state: RunState, step: Superstep, trace: Carrier | None
    ) -> Generator[Any, Any, list[Any]]:
        """Run the superstep's tasks; responses arriving meanwhile are judged at once."""
        if not step.invocations:
            return []  # durabletask's when_all([]) never completes
        readers = {
            i.node_id
            for i in step.invocations
            if state.shared and _reads_state(self.workflow.nodes[i.node_id], i.message)
        }
        shared = (yield from self._share(state)) if readers else {}
        calls: list[tuple[str, Any, Any]] = []
        payload: dict[str, Any]
        for invocation in step.invocations:
            node = self.workflow.nodes[invocation.node_id]
            message = encode_message(self.workflow, node.id, invocation.message)
            if isinstance(node, AgentNode):
                key = self.engine.thread_key(state, invocation) or state.run_id
                payload = {
                    "message": message,
                    "thread_id": thread_id(node.agent.name, key),
                    "workflow": self.workflow.name,  # the entity decodes with its types
                    "version": self.workflow.version,
                }
                if trace:
                    payload.update(trace=trace, run_id=state.run_id, node_id=node.id)
                if node.response_format is not None:
                    payload["response_format"] = format_ref(node.response_format)
                self._count_input(payload, f"agent node {node.id!r}", state)
                if uses_tools(node.agent):  # a turn of several steps: tool calls are activities
                    payload.update(agent=node.agent.name, key=key)
                    task = self.seam.call_sub_orchestrator(AGENT_TURN_ORCHESTRATOR, payload)
                else:
                    task = self.seam.call_entity(
                        agent_entity_name(node.agent.name), key, "run_turn", payload
                    )
                calls.append((node.id, task, None))
                continue
            assert isinstance(node, Executor)
            payload = {"message": message, "run_id": state.run_id, "superstep": state.superstep}
            if node.id in readers:
                payload.update(shared)
            if trace:
                payload["trace"] = trace
            self._count_input(payload, f"executor {node.id!r}", state)
            task = self.seam.call_activity(
                activity_name(self.workflow.name, self.workflow.version, node.id),
                payload,
                node.retry,
            )
            if node.timeout is None:
                calls.append((node.id, task, None))
            else:
                timer = self.seam.timer(self.seam.now + node.timeout)
                calls.append((node.id, self.seam.when_any([task, timer]), task))
        batch = self.seam.when_all([call for _, call, _ in calls])
        while not self.seam.is_complete(batch):
            # a when_any never fails: a failed task is named by the loop below
            yield self.seam.when_any([batch, *self.intake.watch(state)])
            self._take_responses(state)
            if not self.seam.is_complete(batch):
                self._publish(state)  # the verdicts, for the senders
        results = []
        for node_id, call, inner in calls:
            task = call if inner is None else inner
            if inner is not None and not self.seam.is_complete(inner):
                limit = getattr(self.workflow.nodes[node_id], "timeout", None)
                error = f"timed out after {limit}"
                raise ExecutorFailedError(node_id, error, "TimeoutError", step.number)
            failure = self.seam.failure(task)
            if failure is not None:
                raise ExecutorFailedError(node_id, failure[0], failure[1], step.number)
            if not self.seam.is_complete(task):
                continue
            results.append(self._decode_result(node_id, self.seam.result(task), step.number))
        if len(results) != len(calls):
            msg = "a superstep ended with unfinished tasks (a bug)"
            raise DurableWorkflowsError(msg)
        return results

    def _decode_result(self, node_id: str, data: Any, superstep: int) -> Any:
        self.history_bytes += payload_size(data)
        node = self.workflow.nodes[node_id]
        try:
            if isinstance(node, AgentNode):
                response = self.workflow.registry.decode(data)
                return InvocationResult(sent=[SentMessage(response, None, returned=True)])
            return decode_result(self.workflow, data)
        except DurableWorkflowsError as exc:  # a result that cannot be rebuilt fails its node
            error_type = error_type_name(type(exc))
            raise ExecutorFailedError(node_id, str(exc), error_type, superstep) from exc

    def _count_input(self, payload: dict[str, Any], node: str, state: RunState) -> None:
        size = payload_size(payload)
        check_payload(
            size, self.max_payload_bytes, f"The message to {node} in run {state.run_id!r}"
        )
        self.history_bytes += size

    def _share(self, state: RunState) -> Generator[Any, Any, dict[str, Any]]:
        """The shared-state fields of an executor input: the state, or a stored version."""
        encode = self.workflow.registry.encode
        encoded = {k: encode(v) for k, v in state.shared.items()}
        text = json.dumps(encoded)
        if len(text) <= SHARED_INLINE_BYTES or not self.shared_by_reference:
            return {"shared": encoded}
        version = hashlib.sha256(text.encode()).hexdigest()[:32]
        if version != self.shared_version:
            what = f"The shared state of run {state.run_id!r}"
            check_payload(len(text), self.max_payload_bytes, what)
            self.history_bytes += len(text)
            yield self.seam.call_entity(
                SHARED_STATE_ENTITY, state.run_id, "put", {"version": version, "state": encoded}
            )
            self.shared_version = version
        return {"shared_ref": version}

    def _drop_shared(self) -> None:
        if self.shared_version is not None:
            self.seam.signal_entity(SHARED_STATE_ENTITY, self.seam.instance_id, "delete", None)
            self.shared_version = None

    # -- requests ------------------------------------------------------------------------

    def _wait_for_responses(self, state: RunState) -> Generator[Any, Any, None]:
        """Wait until a response arrives (judged by the intake) or a port's timeout passes."""
        waits = self.intake.watch(state)
        timers: dict[str, Any] = {}
        for request in self.intake.open_requests(state):
            timeout = self.workflow.ports[request.port_id].timeout
            if timeout is None:
                continue
            request_id = request.request_id
            if request_id not in self.timers:
                asked = datetime.fromisoformat(self.requested_at[request_id])
                self.timers[request_id] = self.seam.timer(asked + timeout)
            timers[request_id] = self.timers[request_id]
        yield self.seam.when_any(waits + list(timers.values()))
        self._take_responses(state)
        for request_id, timer in timers.items():
            if request_id not in self.intake.accepted and self.seam.is_complete(timer):
                port_id = state.requests[request_id].port_id
                msg = (
                    f"request {request_id!r} of port {port_id!r} got no response within "
                    f"{self.workflow.ports[port_id].timeout}"
                )
                raise RequestTimeoutError(msg)

    def _take_responses(self, state: RunState) -> None:
        """Judge the responses that arrived (counting their bytes into the generation's)."""
        for wait in self.intake.waits.values():
            if self.seam.is_complete(wait):
                self.history_bytes += payload_size(self.seam.result(wait))
        self._emit(self.intake.take(state))

    # -- events, status, continue-as-new ----------------------------------------------------

    def _emit(self, events: list[WorkflowEvent]) -> None:
        for event in events:
            self.sequence += 1
            event.run_id = self.seam.instance_id
            event.sequence = self.sequence
        self.unpublished += events

    def _publish(self, state: RunState | None) -> None:
        registry = self.workflow.registry
        if self.stream and self.unpublished:
            batch: dict[str, list[dict[str, Any]]] = {}
            for event in self.unpublished:
                key = event_chunk_key(self.seam.instance_id, event.sequence)
                batch.setdefault(key, []).append(event.to_dict(registry))
            for key, events in batch.items():
                self.history_bytes += payload_size(events)
                self.seam.signal_entity(EVENT_LOG_ENTITY, key, "append", events)
        self.unpublished = []
        requests = (
            []
            if state is None
            else [
                {
                    "request_id": r.request_id,
                    "port_id": r.port_id,
                    "request": registry.encode(
                        r.request, self.workflow.nodes[r.port_id].input_types
                    ),
                }
                for r in self.intake.open_requests(state)
            ]
        )
        superstep = 0 if state is None else state.superstep
        self.seam.set_status(
            {
                "version": self.workflow.version,
                "sequence": self.sequence,
                "superstep": superstep,
                "stream": self.stream,
                "requests": requests,
                **self.intake.verdicts(),
            }
        )

    def _fail(self, error: str, error_type: str, executor_id: str | None) -> NoReturn:
        self._emit(
            [WorkflowFailedEvent(error=error, error_type=error_type, executor_id=executor_id)]
        )
        self._publish(None)
        self._drop_shared()
        self.telemetry.run_finished((error, error_type), self._superstep)
        where = f"executor {executor_id!r} failed: " if executor_id else ""
        raise DurableRunFailed(f"{where}{error_type}: {error}")

    def _continue_as_new(self, state: RunState) -> None:
        self._publish(state)
        payload = {
            **self.payload,
            "state": encode_state(self.workflow, state),
            "input": None,
            "sequence": self.sequence,
            "generation": self.payload["generation"] + 1,
            "requested_at": {r: at for r, at in self.requested_at.items() if r in state.requests},
            "verdicts": self.intake.verdicts(),
            "shared_version": self.shared_version,
        }
        self.seam.continue_as_new(payload)


def _reads_state(node: Any, message: Any) -> bool:
    """Whether invoking `node` on `message` may read shared state (its handler takes a ctx)."""
    if not isinstance(node, Executor):
        return False
    try:
        spec, _ = node.select_handler(message)
    except DurableWorkflowsError:
        return any(h.wants_context for h in node.handlers)
    return spec.wants_context
