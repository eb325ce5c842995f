"""The generic orchestrator: one generator that walks any workflow's plan superstep by superstep.

It is a thin driver of `Engine`: it schedules a superstep's executors as activities and its
agents as entity calls, takes request responses as external events (`ResponseIntake`; raced
against deadlines while the run only waits), runs sub-workflows as sub-orchestrations
(`ChildRuns`), publishes events, and continues-as-new every
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
    WorkflowGraphMismatchError,
    error_type_name,
)
from ..graph.subworkflow import SubWorkflow
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import uses_tools
from ..model.context import InvocationResult, SentMessage
from ..model.executors import Executor
from ..model.requests import InfoResponse
from ..runtime.engine import Engine
from ..runtime.events import (
    ExecutorFailedEvent,
    WorkflowEvent,
    WorkflowFailedEvent,
    WorkflowStartedEvent,
)
from ..runtime.state import RunState, Superstep
from ..runtime.wire import decode_result, decode_state, encode_message, encode_state
from ..values.typing_utils import type_key
from .children import ChildRuns, report
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
"""Continue-as-new after this many supersteps, which keeps a full replay short. Workers keep
running orchestrators between episodes (sticky), so a step replays nothing and the length
hardly matters for steps (0.48 ms of CPU per chain step at 10 and at 25); a full replay
happens after a restart or on a worker that did not keep the run (docs/benchmarks.md)."""

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
        self.unpublished: list[WorkflowEvent] = []
        self.intake = ResponseIntake(workflow, self.engine, seam, payload.get("verdicts"))
        self.children = ChildRuns(
            seam,
            self.stream,
            lambda child, envelope, stream: start_payload(child, envelope, stream=stream),
        )
        self.parent: dict[str, Any] | None = payload.get("parent")
        """For a sub-workflow's child run: where to report (W3, W4)."""
        self.reported: list[dict[str, Any]] | None = None
        self.timers: dict[datetime, Any] = {}
        """The timer created for each deadline waited for in this episode."""
        self.fired: datetime | None = None
        """The latest deadline whose timer fired (the clock may lag it slightly)."""
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
            self._emit(self.engine.fire_due(state, self._now()))
            if (
                supersteps >= SUPERSTEPS_PER_GENERATION
                or tasks >= TASKS_PER_GENERATION
                or (supersteps and self.history_bytes >= GENERATION_BYTES)  # progress first
            ):
                self._continue_as_new(state)
                return None
            step = self.engine.begin_superstep(state, self.seam.now)
            if step is not None:
                self._emit(step.events)
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
                yield from self._wait(state)
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
            if isinstance(node, SubWorkflow):
                calls.append((node.id, self.children.start(node, invocation, step.number), None))
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
            waits = [batch, *self.intake.watch(state), *self.children.watch()]
            yield self.seam.when_any(waits)
            self._take_responses(state)
            self._emit(self.children.take())
            if not self.seam.is_complete(batch):
                self._publish(state)  # the verdicts, for the senders; the children's requests
        while behind := self.children.behind():  # a child's last events are on their way
            yield self.seam.when_any(behind)
            self._emit(self.children.take())
        self._emit(self.children.take())  # what later children held back (W3)
        results = []
        for node_id, call, inner in calls:
            task = call if inner is None else inner
            if inner is not None and not self.seam.is_complete(inner):
                limit = getattr(self.workflow.nodes[node_id], "timeout", None)
                error = f"timed out after {limit}"
                raise ExecutorFailedError(node_id, error, "TimeoutError", step.number)
            failure = self.seam.failure(task)
            if failure is not None and isinstance(self.workflow.nodes[node_id], SubWorkflow):
                raise self.children.failure(node_id, failure[0], failure[1], step.number)
            if failure is not None:
                raise ExecutorFailedError(node_id, failure[0], failure[1], step.number)
            if not self.seam.is_complete(task):
                continue
            if isinstance(self.workflow.nodes[node_id], SubWorkflow):
                results.append(self.children.result(node_id, self.seam.result(task)))
                continue
            results.append(self._decode_result(node_id, self.seam.result(task), step.number))
        self.children.finish()
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
            return decode_result(self.workflow, data, node_id)
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

    def _wait(self, state: RunState) -> Generator[Any, Any, None]:
        """Wait until a response arrives (judged by the intake) or the next deadline passes
        (the loop then times out what is due, P8, and fires due timers, C2)."""
        waits = self.intake.watch(state)
        due = self.engine.next_deadline(state)
        timer = None
        if due is not None:
            timer = self.timers.get(due)
            if timer is None:
                timer = self.timers[due] = self.seam.timer(due)
            waits.append(timer)
        yield self.seam.when_any(waits)
        self._take_responses(state)
        if timer is not None and due is not None and self.seam.is_complete(timer):
            self.fired = max(self.fired or due, due)

    def _now(self) -> datetime:
        """The orchestration's clock, and never before a deadline whose timer has fired."""
        now = self.seam.now
        return now if self.fired is None else max(now, self.fired)

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
        events = [e.to_dict(registry) for e in self.unpublished] if self.stream else []
        if events and self.parent is None:  # (a child run's events go to its parent, W3)
            batch: dict[str, list[dict[str, Any]]] = {}
            for event in events:
                key = event_chunk_key(self.seam.instance_id, event["sequence"])
                batch.setdefault(key, []).append(event)
            for key, chunk in batch.items():
                self.history_bytes += payload_size(chunk)
                self.seam.signal_entity(EVENT_LOG_ENTITY, key, "append", chunk)
        self.unpublished = []
        requests = (
            []
            if state is None
            else [
                {
                    "request_id": r.request_id,
                    "port_id": r.port_id,
                    "request": registry.encode(r.request, self.workflow.request_hints(r.port_id)),
                    **(
                        {"response_type": type_key(r.response_type)}
                        if r.response_type is not None
                        else {}
                    ),
                }
                for r in self.intake.open_requests(state)
            ]
            + self.children.requests()
        )
        if self.parent is not None and (events or requests != self.reported):
            report(self.seam, self.parent, events, requests, self.sequence)
            self.history_bytes += payload_size(events) + payload_size(requests)
            self.reported = requests
        superstep = 0 if state is None else state.superstep
        self.seam.set_status(
            {
                "version": self.workflow.version,
                "sequence": self.sequence,
                "superstep": superstep,
                "stream": self.stream,
                "requests": requests,
                **({"parent": self.parent["instance_id"]} if self.parent is not None else {}),
                **self.intake.verdicts(),
                **({"timed_out": state.timed_out} if state is not None and state.timed_out else {}),
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
            "verdicts": self.intake.verdicts(),
            "shared_version": self.shared_version,
        }
        self.seam.continue_as_new(payload)


def _reads_state(node: Any, message: Any) -> bool:
    """Whether invoking `node` on `message` may read shared state (its handler takes a ctx)."""
    if not isinstance(node, Executor):
        return False
    if isinstance(message, InfoResponse):  # an answer goes to a response handler (P11)
        return any(spec.wants_context for spec in node.response_handlers)
    try:
        spec, _ = node.select_handler(message)
    except DurableWorkflowsError:
        return any(h.wants_context for h in node.handlers)
    return spec.wants_context
