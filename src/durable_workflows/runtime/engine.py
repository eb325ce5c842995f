"""The superstep engine: a pure, deterministic state machine over a `Workflow`.

No I/O and no durabletask. A driver (the in-process runner or the durable orchestrator) asks
`begin_superstep` what to run, runs it however it likes, and hands the results, in invocation
order, to `finish_superstep`. docs/semantics.md states the rules this module implements.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import datetime, timedelta
from typing import Any, Literal

from ..errors import (
    InvalidResponseError,
    MaxSuperstepsExceededError,
    RequestTimeoutError,
    SerializationError,
    WorkflowRuntimeError,
)
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.context import InvocationResult, SentMessage
from ..model.delays import Delay
from ..model.ports import RequestPort, timed_out_type
from ..model.requests import InfoResponse
from ..values.serialization import from_json
from ..values.typing_utils import a_type, is_any, matches, short_name
from .events import (
    CustomEvent,
    DelayElapsedEvent,
    DelayStartedEvent,
    ExecutorCompletedEvent,
    ExecutorInvokedEvent,
    RequestTimedOutEvent,
    ResponseReceivedEvent,
    WaitingForInputEvent,
    WorkflowCompletedEvent,
    WorkflowEvent,
)
from .routing import can_fire, fire_barriers, output, route
from .state import Delivery, Invocation, PendingRequest, PendingTimer, RunState, Superstep

INPUT_SOURCE = "__input__"
"""The source of the workflow's input message."""

RunStatus = Literal["running", "waiting", "completed"]

TIMED_OUT_KEPT = 256
"""How many of its most recent timeouts a run remembers, to refuse late responses clearly."""


class Engine:
    """Applies the workflow's semantics to a `RunState`."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow

    # -- starting ------------------------------------------------------------------------

    def start(self, message: Any, run_id: str = "") -> RunState:
        """A new run whose first superstep delivers `message` to the start node."""
        state = RunState(run_id=run_id)
        state.barriers = {g.id: {s: [] for s in g.sources} for g in self.workflow.fan_ins}
        message = self.coerce_input(message)
        state.pending.append(Delivery(self.workflow.start_id, message, INPUT_SOURCE))
        return state

    def coerce_input(self, message: Any) -> Any:
        """The workflow input, validated against the start node's input types."""
        accepted = self.workflow.input_types
        if any(matches(message, t) for t in accepted):
            return message
        reasons: list[str] = []
        last: SerializationError | None = None
        for tp in accepted:
            try:
                return from_json(message, tp)
            except SerializationError as exc:
                reasons.append(str(exc))
                last = exc
        names = " | ".join(short_name(t) for t in accepted)
        msg = (
            f"workflow {self.workflow.name!r}: its start node {self.workflow.start_id!r} "
            f"accepts {names}, but the input is {a_type(message)}: {message!r:.200}"
            f" ({'; '.join(reasons)})"
        )
        raise SerializationError(msg) from last

    # -- supersteps ----------------------------------------------------------------------

    def status(self, state: RunState) -> RunStatus:
        """`running` with messages to deliver, `waiting` for responses or timers only, else
        `completed`."""
        if state.halted:
            return "completed"
        if state.pending or can_fire(self.workflow, state):
            return "running"
        return "waiting" if state.requests or state.timers else "completed"

    def begin_superstep(self, state: RunState, now: datetime | None = None) -> Superstep | None:
        """Fire the complete barriers, take the pending messages and plan the next superstep
        (None when there is nothing to deliver). `now` is the driver's clock: it dates the
        deadlines of new requests (without it they have none)."""
        if state.halted:
            return None
        fire_barriers(self.workflow, state)
        if not state.pending:
            return None
        limit = self.workflow.max_supersteps
        if state.superstep >= limit:
            targets = sorted({d.target for d in state.pending})
            msg = (
                f"workflow {self.workflow.name!r} did not finish within max_supersteps={limit}: "
                f"{len(state.pending)} message(s) were still pending for {targets}. Raise "
                "max_supersteps in WorkflowBuilder, or end the loop with an edge condition"
            )
            raise MaxSuperstepsExceededError(msg)
        index = self.workflow.node_index
        nodes = self.workflow.nodes
        deliveries = sorted(state.pending, key=lambda d: index[d.target])
        for delivery in deliveries:
            node = nodes[delivery.target]
            if isinstance(node, (RequestPort, Delay)):
                delivery.message = self._coerce_held(node, delivery)
        state.superstep += 1
        state.pending = []
        step = Superstep(state.superstep, [], [], [])
        counts: dict[str, int] = {}
        for delivery in deliveries:
            node = nodes[delivery.target]
            if isinstance(node, (RequestPort, Delay)):
                count = counts.get(node.id, 0)
                counts[node.id] = count + 1
                held_id = f"{node.id}:{state.superstep}:{count}"
            if isinstance(node, RequestPort):
                deadline = None if now is None or node.timeout is None else now + node.timeout
                request = PendingRequest(
                    held_id, node.id, delivery.message, step.number, deadline
                )
                state.requests[request.request_id] = request
                step.new_requests.append(request)
                step.events.append(self._waiting_event(request))
            elif isinstance(node, Delay):
                due = None if now is None else now + node.duration
                timer = PendingTimer(held_id, node.id, delivery.message, step.number, due)
                state.timers[timer.timer_id] = timer
                seconds = node.duration.total_seconds()
                step.events.append(
                    DelayStartedEvent(timer_id=held_id, delay_id=node.id, seconds=seconds)
                )
            else:
                branch = len(step.invocations)
                target = delivery.target
                invocation = Invocation(target, delivery.message, delivery.source, branch)
                step.invocations.append(invocation)
                step.events.append(ExecutorInvokedEvent(executor_id=target, superstep=step.number))
        return step

    def _coerce_held(self, node: RequestPort | Delay, delivery: Delivery) -> Any:
        """The message arriving at a port or delay, validated against its input type."""
        expected = node.input_types[0]
        if matches(delivery.message, expected):
            return delivery.message
        try:
            return from_json(delivery.message, expected)
        except SerializationError as exc:
            what = "request port" if isinstance(node, RequestPort) else "delay"
            msg = (
                f"{delivery.source!r} sent {a_type(delivery.message)} to {what} "
                f"{node.id!r}, which asks for {short_name(expected)}: {exc}"
            )
            raise WorkflowRuntimeError(msg) from exc

    def finish_superstep(
        self, state: RunState, step: Superstep, results: list[InvocationResult]
    ) -> list[WorkflowEvent]:
        """Apply the results (one per invocation, same order): outputs, state, routing, halt."""
        if len(results) != len(step.invocations):
            msg = f"got {len(results)} results for {len(step.invocations)} invocations (a bug)"
            raise WorkflowRuntimeError(msg)
        events: list[WorkflowEvent] = []
        asked: dict[str, int] = {}
        for invocation, result in zip(step.invocations, results, strict=False):
            node_id = invocation.node_id
            for value in result.outputs:
                output(state, events, node_id, value)
            events += [CustomEvent(executor_id=node_id, data=data) for data in result.events]
            for info in result.requests:
                count = asked.get(node_id, 0)
                asked[node_id] = count + 1
                request = PendingRequest(
                    f"{node_id}:{step.number}:{count}",
                    node_id,
                    info.request,
                    step.number,
                    response_type=info.response_type,
                )
                state.requests[request.request_id] = request
                events.append(self._waiting_event(request))
            state.shared.update(result.state_updates)
            for sent in result.sent:
                route(self.workflow, state, events, node_id, sent)
            state.halted = state.halted or result.halt
            events.append(ExecutorCompletedEvent(executor_id=node_id, superstep=step.number))
        if state.halted:
            state.pending = []
            state.requests = {}
            state.timers = {}
        return events

    def submit_response(
        self, state: RunState, request_id: str, response: Any
    ) -> list[WorkflowEvent]:
        """Accept the response to a pending request; it is routed like a message from the port.

        Barriers it completes fire when the next superstep begins, after every other delivery.
        """
        request = state.requests.get(request_id)
        if request is None and request_id in state.timed_out:
            waited = timedelta(seconds=state.timed_out[request_id])
            msg = f"request {request_id!r} timed out after {waited}; it no longer takes a response"
            raise InvalidResponseError(msg)
        if request is None:
            known = ", ".join(state.requests) or "none"
            msg = f"no pending request {request_id!r} in this run (pending: {known})"
            raise InvalidResponseError(msg)
        response = self.check_response(request, response)
        del state.requests[request_id]
        port_id = request.port_id
        events: list[WorkflowEvent] = [
            ResponseReceivedEvent(request_id=request_id, port_id=port_id, response=response)
        ]
        if request.response_type is None:
            route(self.workflow, state, events, port_id, SentMessage(response, None, returned=True))
        else:  # back to the executor that asked (P11)
            answer = InfoResponse(request.request, response, request.response_type)
            state.pending.append(Delivery(port_id, answer, request_id))
        return events

    def response_type_of(self, request: PendingRequest) -> Any:
        """The type a request's response must have."""
        if request.response_type is not None:
            return request.response_type
        return self.workflow.ports[request.port_id].response_type

    def check_response(self, request: PendingRequest, response: Any) -> Any:
        """`response` validated as the response to `request` (`InvalidResponseError`)."""
        return _coerce_response(self.response_type_of(request), request.port_id, response)

    def _waiting_event(self, request: PendingRequest) -> WaitingForInputEvent:
        return WaitingForInputEvent(
            request_id=request.request_id,
            port_id=request.port_id,
            request=request.request,
            response_type=short_name(self.response_type_of(request)),
        )

    def event_request(
        self, state: RunState, name: str, answered: Container[str] = ()
    ) -> PendingRequest:
        """The one open request (not in `answered`) that an event named `name` answers (P10);
        `InvalidResponseError` when `name` is no port or not exactly one request is open there."""
        names = self.workflow.request_names
        if name not in names:
            msg = (
                f"event {name!r} names no port of workflow {self.workflow.name!r} (ports: "
                f"{', '.join(names) or 'none'}); name a named event after the port it answers"
            )
            raise InvalidResponseError(msg)
        open_here = [
            r
            for r in state.requests.values()
            if r.port_id == name and r.request_id not in answered
        ]
        if len(open_here) == 1:
            return open_here[0]
        if not open_here:
            msg = f"event {name!r}: no request is open at port {name!r}"
        else:
            ids = ", ".join(r.request_id for r in open_here)
            msg = (
                f"event {name!r}: {len(open_here)} requests are open at port {name!r} ({ids}); "
                "answer one of them by its request id with send_response"
            )
        raise InvalidResponseError(msg)

    def coerce_response(self, port: RequestPort | str, response: Any) -> Any:
        """`response` validated against the response type of the requests waiting at `port`
        (a port, or the id of a port or of an executor that asks; `InvalidResponseError`)."""
        if isinstance(port, RequestPort):
            return _coerce_response(port.response_type, port.id, response)
        return _coerce_response(self.workflow.response_type(port), port, response)

    # -- time ------------------------------------------------------------------------------

    def next_deadline(self, state: RunState, *, requests: bool = True) -> datetime | None:
        """The earliest due time of the timers and (with `requests`) of the open requests'
        deadlines (None when there is none)."""
        due = [timer.due for timer in state.timers.values() if timer.due is not None]
        if requests:
            due += [r.deadline for r in state.requests.values() if r.deadline is not None]
        return min(due, default=None)

    def fire_due(self, state: RunState, now: datetime) -> list[WorkflowEvent]:
        """Fire every timer and time out every open request due at `now` or earlier (C2, P8),
        by due time, then superstep, graph position and index. A request times out along its
        port's timeout edges; without one the run fails (`RequestTimeoutError`)."""
        if state.halted:
            return []
        due: list[tuple[tuple[Any, ...], PendingRequest | PendingTimer]] = [
            (self._due_key(r.deadline, r.request_id), r)
            for r in state.requests.values()
            if r.deadline is not None and r.deadline <= now
        ]
        due += [
            (self._due_key(timer.due, timer.timer_id), timer)
            for timer in state.timers.values()
            if timer.due is not None and timer.due <= now
        ]
        due.sort(key=lambda item: item[0])
        for _, item in due:
            if isinstance(item, PendingRequest) and item.port_id not in self.workflow.timeout_targets:
                port = self.workflow.ports[item.port_id]
                msg = (
                    f"request {item.request_id!r} of port {item.port_id!r} got no response "
                    f"within {port.timeout}; add a timeout edge from the port to handle it"
                )
                raise RequestTimeoutError(msg)
        events: list[WorkflowEvent] = []
        for _, item in due:
            if isinstance(item, PendingTimer):
                del state.timers[item.timer_id]
                events.append(DelayElapsedEvent(timer_id=item.timer_id, delay_id=item.node_id))
                route(self.workflow, state, events, item.node_id, SentMessage(item.message, None, True))
            else:
                events += self._time_out(state, item)
        return events

    def _due_key(self, due: datetime, held_id: str) -> tuple[Any, ...]:
        node_id, superstep, index = held_id.rsplit(":", 2)
        return (due, int(superstep), self.workflow.node_index[node_id], int(index))

    def _time_out(self, state: RunState, request: PendingRequest) -> list[WorkflowEvent]:
        port = self.workflow.ports[request.port_id]
        assert port.timeout is not None
        del state.requests[request.request_id]
        waited = port.timeout.total_seconds()
        state.timed_out[request.request_id] = waited
        for old in list(state.timed_out)[:-TIMED_OUT_KEPT]:
            del state.timed_out[old]
        message = timed_out_type(port)(
            request_id=request.request_id,
            port_id=port.id,
            request=request.request,
            waited=port.timeout,
        )
        for target in self.workflow.timeout_targets[port.id]:
            state.pending.append(Delivery(target, message, port.id))
        return [
            RequestTimedOutEvent(
                request_id=request.request_id, port_id=port.id, waited_seconds=waited
            )
        ]

    def completion_event(self, state: RunState) -> WorkflowCompletedEvent:
        """The event that ends a completed run (with what barriers were still holding)."""
        result = state.outputs[-1] if state.outputs else None
        unfired = {
            group.target: {src: len(q) for src, q in state.barriers[group.id].items() if q}
            for group in self.workflow.fan_ins
            if any(state.barriers[group.id].values())
        }
        return WorkflowCompletedEvent(
            result=result, outputs=list(state.outputs), unfired_barriers=unfired
        )

    def thread_key(self, state: RunState, invocation: Invocation) -> str | None:
        """For agent invocations, the entity key of the conversation thread (else None)."""
        node = self.workflow.nodes[invocation.node_id]
        if not isinstance(node, AgentNode):
            return None
        return node.thread_key(state.run_id, state.superstep, invocation.branch)


def _coerce_response(response_type: Any, port_id: str, response: Any) -> Any:
    if is_any(response_type) or matches(response, response_type):
        return response
    try:
        return from_json(response, response_type, strict=True)
    except SerializationError as exc:
        msg = f"response to port {port_id!r} refused: {exc}"
        raise InvalidResponseError(msg) from exc
