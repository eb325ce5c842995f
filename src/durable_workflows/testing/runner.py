"""`run_in_process`: run a workflow in this process on the superstep engine (no durability).

It is the reference the durable runtime is tested against: same engine, same JSON round trip
of every result, invocations of a superstep run one after another in invocation order. Time is
virtual (docs/semantics.md C1): it stands still while the run has work and jumps to the next
deadline when the run is idle, so runs with timeouts are deterministic and instant.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from ..durable.names import thread_id
from ..errors import (
    DurableWorkflowsError,
    ExecutorFailedError,
    InvalidResponseError,
    error_type_name,
)
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import AgentThreadState
from ..model.context import InvocationResult
from ..model.executors import Executor
from ..runtime.engine import Engine, Invocation, RunState, Superstep
from ..runtime.events import (
    ExecutorFailedEvent,
    ResponseRefusedEvent,
    WaitingForInputEvent,
    WorkflowEvent,
    WorkflowFailedEvent,
    WorkflowStartedEvent,
)
from ..runtime.invoke import invoke_agent, invoke_executor
from ..runtime.wire import decode_message, decode_result, encode_message, encode_result

ResponseProvider = Callable[[WaitingForInputEvent], Any]
"""Answers a request: given the `WaitingForInputEvent`, returns the response (or
`NO_RESPONSE`)."""

EPOCH: Final = datetime(2000, 1, 1, tzinfo=timezone.utc)
"""Where an in-process run's virtual clock starts by default."""


class _NoResponse:
    def __repr__(self) -> str:
        return "NO_RESPONSE"


NO_RESPONSE: Final = _NoResponse()
"""What a responder returns to leave a request unanswered for now (so time can pass, C1)."""


@dataclass
class InProcessResult:
    """What an in-process run produced."""

    status: str
    """``completed``, ``failed`` or ``waiting`` (requests left unanswered)."""
    outputs: list[Any] = field(default_factory=list)
    events: list[WorkflowEvent] = field(default_factory=list)
    error: DurableWorkflowsError | None = None
    pending_requests: list[WaitingForInputEvent] = field(default_factory=list)
    """The requests still waiting for a response (only a ``waiting`` run has any)."""

    @property
    def result(self) -> Any:
        """The last output, or None."""
        return self.outputs[-1] if self.outputs else None


class InProcessRunner:
    """Drives the engine in this process; `run_in_process` is the usual entry point.

    A run left waiting can be continued with `submit_response`.
    """

    def __init__(
        self,
        workflow: Workflow,
        responses: ResponseProvider | None = None,
        *,
        start: datetime = EPOCH,
    ) -> None:
        self.workflow = workflow
        self.engine = Engine(workflow)
        self.responses = responses
        self.start = start
        self.clock = start
        """The virtual clock (C1)."""
        self.jumps: list[datetime] = []
        """Where the clock jumped to, in order (what a durable twin must skip to)."""
        self.declined = False
        """Whether the responder declined (`NO_RESPONSE`) at the current wait."""
        self.threads: dict[tuple[str, str], AgentThreadState] = {}
        self.events: list[WorkflowEvent] = []
        self.run_id = ""
        self.state: RunState | None = None
        self._driver: Generator[None, None, None] | None = None
        self._result: InProcessResult | None = None

    def run(self, message: Any, run_id: str = "in-process") -> InProcessResult:
        """Run to completion, failure, or until requests are left unanswered."""
        self.run_id = run_id
        self._emit([WorkflowStartedEvent(workflow_name=self.workflow.name)])
        try:
            self.state = self.engine.start(message, run_id)
        except DurableWorkflowsError as exc:
            return self._failed(exc)
        self._driver = self._drive(self.state)
        return self._advance()

    def submit_response(self, request_id: str, response: Any) -> InProcessResult:
        """Answer a request of a waiting run and run on (`InvalidResponseError` if refused)."""
        state = self._waiting_state()
        self._emit(self.engine.submit_response(state, request_id, response))
        return self._advance()

    def raise_event(self, name: str, payload: Any) -> InProcessResult:
        """A named event for a waiting run (P10): `payload` answers the one request open at
        port `name`. A refusal is recorded as a `ResponseRefusedEvent` and raised."""
        state = self._waiting_state()
        request = None
        try:
            request = self.engine.event_request(state, name)
            events = self.engine.submit_response(state, request.request_id, payload)
        except InvalidResponseError as exc:
            refused = ResponseRefusedEvent(
                request_id="" if request is None else request.request_id,
                port_id=name,
                error=str(exc),
                event_name=name,
            )
            self._emit([refused])
            raise
        self._emit(events)
        return self._advance()

    def _waiting_state(self) -> RunState:
        if self.state is None or self._result is None or self._result.status != "waiting":
            status = "not started" if self._result is None else self._result.status
            msg = f"in-process run {self.run_id!r} is {status}; only a waiting run takes input"
            raise InvalidResponseError(msg)
        return self.state

    def _advance(self) -> InProcessResult:
        assert self._driver is not None and self.state is not None
        state = self.state
        try:
            next(self._driver)
        except StopIteration:
            self._emit([self.engine.completion_event(state)])
            self._result = InProcessResult("completed", list(state.outputs), self.events)
            return self._result
        except DurableWorkflowsError as exc:
            self._result = self._failed(exc)
            return self._result
        announced = {e.request_id: e for e in self.events if isinstance(e, WaitingForInputEvent)}
        pending = [announced[r] for r in state.requests]
        self._result = InProcessResult("waiting", list(state.outputs), self.events, None, pending)
        return self._result

    def _drive(self, state: RunState) -> Generator[None, None, None]:
        """The run's loop; it yields when the run waits for input nobody gives it now."""
        while True:
            step = self.engine.begin_superstep(state, self.clock)
            if step is not None:
                self._emit(step.events)
                results = self.execute(state, step)
                self._emit(self.engine.finish_superstep(state, step, results))
                continue
            if self.engine.status(state) == "completed":
                return
            self.declined = False
            if self._answer(state):
                continue
            due = self.engine.next_deadline(state, requests=self.declined)
            if due is not None:
                self.clock = max(self.clock, due)
                self.jumps.append(self.clock)
                self._emit(self.engine.fire_due(state, self.clock))
                continue
            yield

    def execute(self, state: RunState, step: Superstep) -> list[InvocationResult]:
        """Run a superstep's invocations; results come back in invocation order."""
        shared = dict(state.shared)
        return [self._invoke(state, invocation, shared) for invocation in step.invocations]

    def _invoke(
        self, state: RunState, invocation: Invocation, shared: dict[str, Any]
    ) -> InvocationResult:
        node = self.workflow.nodes[invocation.node_id]
        try:
            # Like a durable activity or entity call, every invocation gets its own JSON copy of
            # its message and of the shared state, so a handler that mutates them in place
            # cannot change what another invocation sees.
            registry = self.workflow.registry
            wire_message = encode_message(self.workflow, node.id, invocation.message)
            message = decode_message(self.workflow, node.id, wire_message)
            own = Invocation(invocation.node_id, message, invocation.source, invocation.branch)
            if isinstance(node, AgentNode):
                key = self.engine.thread_key(state, invocation) or ""
                thread = self.threads.get((node.agent.name, key), AgentThreadState())
                thread, result = invoke_agent(
                    node, thread, message, thread_id(node.agent.name, key)
                )
                self.threads[(node.agent.name, key)] = thread
            else:
                copied = {k: registry.decode(registry.encode(v)) for k, v in shared.items()}
                result = self._invoke_executor(state, own, copied)
            wire = encode_result(self.workflow, node.id, result)
            return decode_result(self.workflow, wire, node.id)
        except ExecutorFailedError:
            raise
        except Exception as exc:
            # Whatever goes wrong while a node handles its message (no matching handler, a
            # value that cannot be serialised or rebuilt, the handler raising) fails that
            # node, as a failed durable activity does.
            error_type = error_type_name(type(exc))
            raise ExecutorFailedError(node.id, str(exc), error_type, state.superstep) from exc

    def _invoke_executor(
        self, state: RunState, invocation: Invocation, shared: dict[str, Any]
    ) -> InvocationResult:
        node = self.workflow.nodes[invocation.node_id]
        attempts = node.retry.max_attempts if isinstance(node, Executor) and node.retry else 1
        attempt = 1
        while True:
            try:
                return invoke_executor(
                    self.workflow,
                    node.id,
                    invocation.message,
                    shared,
                    run_id=state.run_id,
                    superstep=state.superstep,
                )
            except DurableWorkflowsError:
                raise
            except Exception:
                if attempt >= attempts:
                    raise
                attempt += 1

    def _answer(self, state: RunState) -> bool:
        """Ask the responder for every open request; whether it answered any (a request it
        declines with `NO_RESPONSE` sets `declined`, so that time may pass)."""
        if self.responses is None:
            return False
        waiting = {e.request_id: e for e in self.events if isinstance(e, WaitingForInputEvent)}
        answered = False
        for request_id in list(state.requests):
            response = self.responses(waiting[request_id])
            if response is NO_RESPONSE:
                self.declined = True
                continue
            self._emit(self.engine.submit_response(state, request_id, response))
            answered = True
        return answered

    def _failed(self, exc: DurableWorkflowsError) -> InProcessResult:
        events: list[WorkflowEvent] = []
        error, error_type, executor_id = str(exc), error_type_name(type(exc)), None
        if isinstance(exc, ExecutorFailedError):
            error, error_type, executor_id = exc.error, exc.error_type, exc.executor_id
            events.append(
                ExecutorFailedEvent(
                    executor_id=executor_id,
                    error=error,
                    error_type=error_type,
                    superstep=exc.superstep,
                )
            )
        events.append(
            WorkflowFailedEvent(error=error, error_type=error_type, executor_id=executor_id)
        )
        self._emit(events)
        return InProcessResult("failed", [], self.events, exc)

    def _emit(self, events: list[WorkflowEvent]) -> None:
        for event in events:
            event.run_id = self.run_id
            event.sequence = len(self.events) + 1
            self.events.append(event)


def run_in_process(
    workflow: Workflow,
    input: Any,
    responses: ResponseProvider | None = None,
    *,
    start: datetime = EPOCH,
) -> InProcessResult:
    """Run `workflow` on `input` in this process; `responses` answers each request.

    Without `responses`, a run that reaches a request port stops with status ``waiting``.
    `start` is where the virtual clock starts (C1).
    """
    return InProcessRunner(workflow, responses, start=start).run(input)
