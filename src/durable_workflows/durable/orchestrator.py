"""The generic orchestrator: one generator that walks any workflow's plan superstep by superstep.

It is a thin driver of `Engine`: it schedules a superstep's executors as activities and its
agents as entity calls, waits for request responses as external events (raced against port
timeouts), publishes events, and continues-as-new every few supersteps, tasks or megabytes so
that history, and so replay cost, stays bounded. Payloads over the limit fail the run with an
error naming them (`payloads`); large shared state goes by reference (`shared_state`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Generator
from datetime import datetime
from typing import Any, NoReturn

from ..agent_nodes import AgentNode
from ..context import InvocationResult, SentMessage
from ..engine import Engine, RunState, Superstep
from ..errors import (
    DurableWorkflowsError,
    ExecutorFailedError,
    InvalidResponseError,
    RequestTimeoutError,
    WorkflowGraphMismatchError,
)
from ..events import (
    ExecutorFailedEvent,
    WorkflowEvent,
    WorkflowFailedEvent,
    WorkflowStartedEvent,
)
from ..executors import Executor
from ..wire import decode_result, decode_state, encode_message, encode_state
from ..workflow import Workflow
from .names import (
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
from .seam import OrchestrationSeam

SUPERSTEPS_PER_GENERATION = 25
"""Continue-as-new after this many supersteps (keeps each replay short)."""

TASKS_PER_GENERATION = 400
"""...or after this many scheduled tasks (wide fan-outs)."""


class DurableRunFailed(DurableWorkflowsError):
    """Raised out of the orchestrator to mark the orchestration FAILED (message says why)."""


def start_payload(workflow: Workflow, input_envelope: Any, *, stream: bool) -> dict[str, Any]:
    """The orchestrator input of a new run."""
    return {
        "graph_hash": workflow.graph_hash,
        "input": input_envelope,
        "state": None,
        "sequence": 0,
        "stream": stream,
        "generation": 0,
        "requested_at": {},
    }


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
        self.event_waits: dict[str, Any] = {}
        self.timers: dict[str, Any] = {}
        self.max_payload_bytes = max_payload_bytes
        self.shared_by_reference = shared_by_reference
        self.shared_version: str | None = payload.get("shared_version")
        """The shared-state version stored in the run's `SHARED_STATE_ENTITY`, if any."""
        self.history_bytes = payload_size(payload)
        """Payload bytes this generation put into its history so far."""

    def run(self) -> Generator[Any, Any, Any]:
        """The orchestrator body: returns the run's result payload, or raises to fail it."""
        self._check_graph()
        try:
            state = yield from self._run_generation()
        except ExecutorFailedError as exc:
            self._emit(
                [
                    ExecutorFailedEvent(
                        executor_id=exc.executor_id, error=exc.error, error_type=exc.error_type
                    )
                ]
            )
            return self._fail(exc.error, exc.error_type, exc.executor_id)
        except DurableWorkflowsError as exc:
            return self._fail(str(exc), type(exc).__name__, None)
        if state is None:
            return None  # continued as new
        completed = self.engine.completion_event(state)
        self._emit([completed])
        self._publish(state)
        self._drop_shared()
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
                f"{self.workflow.name!r} was started with graph hash {recorded}, but this worker "
                f"registers hash {self.workflow.graph_hash}. Let old runs finish (or terminate "
                "them) before deploying a changed graph, or register it under a new name."
            )
            raise WorkflowGraphMismatchError(msg)

    def _run_generation(self) -> Generator[Any, Any, RunState | None]:
        state = self._initial_state()
        supersteps = tasks = 0
        while True:
            step = self.engine.begin_superstep(state)
            if step is not None:
                self._emit(step.events)
                for request in step.new_requests:
                    self.requested_at[request.request_id] = self.seam.now.isoformat()
                self._publish(state)
                results = yield from self._execute(state, step)
                self._emit(self.engine.finish_superstep(state, step, results))
                supersteps += 1
                tasks += len(step.invocations)
            elif self.engine.status(state) == "waiting":
                self._publish(state)
                yield from self._wait_for_responses(state)
                supersteps += 1
            else:
                return state
            if (
                supersteps >= SUPERSTEPS_PER_GENERATION
                or tasks >= TASKS_PER_GENERATION
                or self.history_bytes >= GENERATION_BYTES
            ):
                self._continue_as_new(state)
                return None

    def _initial_state(self) -> RunState:
        if self.payload["state"] is not None:
            return decode_state(self.workflow, self.payload["state"])
        message = self.workflow.registry.decode(self.payload["input"])
        state = self.engine.start(message, self.seam.instance_id)
        self._emit([WorkflowStartedEvent(workflow_name=self.workflow.name)])
        return state

    # -- supersteps ----------------------------------------------------------------------

    def _execute(self, state: RunState, step: Superstep) -> Generator[Any, Any, list[Any]]:
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
                payload = {"message": message, "thread_id": thread_id(node.agent.name, key)}
                self._count_input(payload, f"agent node {node.id!r}", state)
                task = self.seam.call_entity(
                    agent_entity_name(node.agent.name), key, "run_turn", payload
                )
                calls.append((node.id, task, None))
                continue
            assert isinstance(node, Executor)
            payload = {"message": message, "run_id": state.run_id, "superstep": state.superstep}
            if node.id in readers:
                payload.update(shared)
            self._count_input(payload, f"executor {node.id!r}", state)
            task = self.seam.call_activity(
                activity_name(self.workflow.name, node.id), payload, node.retry
            )
            if node.timeout is None:
                calls.append((node.id, task, None))
            else:
                timer = self.seam.timer(self.seam.now + node.timeout)
                calls.append((node.id, self.seam.when_any([task, timer]), task))
        with contextlib.suppress(Exception):  # a task failed: the loop below names the first
            yield self.seam.when_all([call for _, call, _ in calls])
        results = []
        for node_id, call, inner in calls:
            task = call if inner is None else inner
            if inner is not None and not self.seam.is_complete(inner):
                limit = getattr(self.workflow.nodes[node_id], "timeout", None)
                raise ExecutorFailedError(node_id, f"timed out after {limit}", "TimeoutError")
            failure = self.seam.failure(task)
            if failure is not None:
                raise ExecutorFailedError(node_id, failure[0], failure[1])
            if not self.seam.is_complete(task):
                continue
            results.append(self._decode_result(node_id, self.seam.result(task)))
        if len(results) != len(calls):
            msg = "a superstep ended with unfinished tasks (a bug)"
            raise DurableWorkflowsError(msg)
        return results

    def _decode_result(self, node_id: str, data: Any) -> Any:
        self.history_bytes += payload_size(data)
        node = self.workflow.nodes[node_id]
        if isinstance(node, AgentNode):
            response = self.workflow.registry.decode(data)
            return InvocationResult(sent=[SentMessage(response, None, returned=True)])
        return decode_result(self.workflow, data)

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
        for request_id, request in state.requests.items():
            if request_id not in self.event_waits:
                self.event_waits[request_id] = self.seam.wait_for_event(request_id)
            port = self.workflow.ports[request.port_id]
            if port.timeout is not None and request_id not in self.timers:
                asked = datetime.fromisoformat(self.requested_at[request_id])
                self.timers[request_id] = self.seam.timer(asked + port.timeout)
        waits = [self.event_waits[r] for r in state.requests]
        timers = [self.timers[r] for r in state.requests if r in self.timers]
        yield self.seam.when_any(waits + timers)
        for request_id in list(state.requests):
            wait = self.event_waits[request_id]
            if self.seam.is_complete(wait):
                del self.event_waits[request_id]
                self._accept(state, request_id, self.seam.result(wait))
        for request_id in list(state.requests):
            timer = self.timers.get(request_id)
            if timer is not None and self.seam.is_complete(timer):
                port_id = state.requests[request_id].port_id
                msg = (
                    f"request {request_id!r} of port {port_id!r} got no response within "
                    f"{self.workflow.ports[port_id].timeout}"
                )
                raise RequestTimeoutError(msg)

    def _accept(self, state: RunState, request_id: str, payload: Any) -> None:
        try:
            self.history_bytes += payload_size(payload)
            envelope = payload.get("response") if isinstance(payload, dict) else None
            if envelope is None:
                raise InvalidResponseError("a response must be sent with WorkflowRun.send_response")
            response = self.workflow.registry.decode(envelope)
            self._emit(self.engine.submit_response(state, request_id, response))
            self.requested_at.pop(request_id, None)
            self.timers.pop(request_id, None)
        except DurableWorkflowsError:
            pass  # refused; the client reports it to the sender, the run keeps waiting

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
                for r in state.requests.values()
            ]
        )
        superstep = 0 if state is None else state.superstep
        self.seam.set_status(
            {
                "sequence": self.sequence,
                "superstep": superstep,
                "stream": self.stream,
                "requests": requests,
            }
        )

    def _fail(self, error: str, error_type: str, executor_id: str | None) -> NoReturn:
        self._emit(
            [WorkflowFailedEvent(error=error, error_type=error_type, executor_id=executor_id)]
        )
        self._publish(None)
        self._drop_shared()
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
            "requested_at": self.requested_at,
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
