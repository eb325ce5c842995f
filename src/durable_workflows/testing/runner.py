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
from ..graph.subworkflow import SubWorkflow
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import AgentThreadState
from ..model.context import InvocationResult, SentMessage
from ..model.executors import Executor
from ..runtime.engine import Engine
from ..runtime.events import (
    ExecutorFailedEvent,
    ResponseRefusedEvent,
    WaitingForInputEvent,
    WorkflowEvent,
    WorkflowFailedEvent,
    WorkflowStartedEvent,
)
from ..runtime.invoke import invoke_agent, invoke_executor
from ..runtime.state import Invocation, RunState, Superstep
from ..runtime.subruns import child_failure, child_run_id, invocation_key, qualified
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
        self.trail: list[tuple[str, Any]] = []
        """What the run was given each time it waited, in order: ``("answer", (request id,
        response))`` or ``("jump", time)`` (what a durable twin must do to run the same way)."""
        self.declined = False
        """Whether the responder declined (`NO_RESPONSE`) at the current wait."""
        self.threads: dict[tuple[str, str], AgentThreadState] = {}
        self.events: list[WorkflowEvent] = []
        self.run_id = ""
        self.state: RunState | None = None
        self.children: dict[str, InProcessRunner] = {}
        """The child runs waiting inside the current superstep, by invocation key (W4)."""
        self.forward: Callable[[list[WorkflowEvent]], None] | None = None
        """Where a child run's events go (its parent, which qualifies them, W3)."""
        self.qualify: Callable[[str], str] = lambda request_id: request_id
        """A request id as the root run names it."""
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
        """Answer a request of a waiting run and run on (`InvalidResponseError` if refused);
        a child run's request by its prefixed id (W4)."""
        self._waiting_state()
        self._submit(request_id, response)
        return self._advance()

    def _submit(self, request_id: str, response: Any) -> None:
        key, _, inner = request_id.partition("/")
        if inner and key in self.children:
            self.children[key]._submit(inner, response)
            return
        assert self.state is not None
        self._emit(self.engine.submit_response(self.state, request_id, response))

    def raise_event(self, name: str, payload: Any) -> InProcessResult:
        """A named event for a waiting run (P10): `payload` answers the one request open at
        port `name` (a child run's port by its path, W4). A refusal is recorded as a
        `ResponseRefusedEvent` and raised."""
        state = self._waiting_state()
        request_id = ""
        try:
            if "/" in name:
                request_id = self._child_request(name).request_id
            else:
                request_id = self.engine.event_request(state, name).request_id
            self._submit(request_id, payload)
        except InvalidResponseError as exc:
            refused = ResponseRefusedEvent(
                request_id=request_id, port_id=name, error=str(exc), event_name=name
            )
            self._emit([refused])
            raise
        return self._advance()

    def _child_request(self, name: str) -> WaitingForInputEvent:
        """The one request open at a child run's port `name` (``"sub/port"``)."""
        open_here = [r for r in self._pending() if r.port_id == name]
        if len(open_here) == 1:
            return open_here[0]
        ids = ", ".join(r.request_id for r in open_here)
        detail = f"{len(open_here)} requests are open there ({ids})" if open_here else "none"
        msg = f"event {name!r}: not exactly one request is open at port {name!r}: {detail}"
        raise InvalidResponseError(msg)

    def _pending(self) -> list[WaitingForInputEvent]:
        """The open requests, this run's then its waiting child runs' (prefixed, W4)."""
        if self.state is None:
            return []
        announced = {e.request_id: e for e in self.events if isinstance(e, WaitingForInputEvent)}
        pending = [announced[r] for r in self.state.requests]
        for key, child in self.children.items():
            node_id = key.split(":", 1)[0]
            for request in child._pending():
                copy = qualified(request, node_id, key)
                assert isinstance(copy, WaitingForInputEvent)
                pending.append(copy)
        return pending

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
        pending = self._pending()
        self._result = InProcessResult("waiting", list(state.outputs), self.events, None, pending)
        return self._result

    def _drive(self, state: RunState) -> Generator[None, None, None]:
        """The run's loop; it yields when the run waits for input nobody gives it now."""
        while True:
            self._emit(self.engine.fire_due(state, self.clock))
            step = self.engine.begin_superstep(state, self.clock)
            if step is not None:
                self._emit(step.events)
                results = yield from self._execute_step(state, step)
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
                self.trail.append(("jump", self.clock))
                continue
            yield

    def _execute_step(
        self, state: RunState, step: Superstep
    ) -> Generator[None, None, list[InvocationResult]]:
        """`execute`, except that a superstep with sub-workflow invocations runs their child
        runs, which may wait for input (the run then waits with them, W1, W4)."""
        nodes = self.workflow.nodes
        if not any(isinstance(nodes[i.node_id], SubWorkflow) for i in step.invocations):
            return self.execute(state, step)
        shared = dict(state.shared)
        began = self.clock
        results = []
        for invocation in step.invocations:
            if isinstance(nodes[invocation.node_id], SubWorkflow):
                results.append((yield from self._run_child(state, invocation, began)))
            else:
                results.append(self._invoke(state, invocation, shared))
        return results

    def _run_child(
        self, state: RunState, invocation: Invocation, began: datetime
    ) -> Generator[None, None, InvocationResult]:
        """One sub-workflow invocation: a child run to its end; its outputs are the node's
        returned messages (W1). Its clock starts when the superstep began (W3: the child runs
        of one superstep run at the same time, though one after the other here)."""
        node = self.workflow.nodes[invocation.node_id]
        assert isinstance(node, SubWorkflow)
        key = invocation_key(node.id, state.superstep, invocation.branch)
        child = self._child_runner(node.workflow, key)
        child.clock, child.trail = began, self.trail
        child.run_id = child_run_id(state.run_id, key)
        child.forward = lambda events: self._emit(
            [e for e in (qualified(event, node.id, key) for event in events) if e is not None]
        )
        child.qualify = lambda request_id: self.qualify(f"{key}/{request_id}")
        child._emit([WorkflowStartedEvent(workflow_name=node.workflow.name)])
        registry = self.workflow.registry
        message = registry.decode(encode_message(self.workflow, node.id, invocation.message))
        self.children[key] = child
        try:
            child.state = child.engine.start(message, child.run_id)
            for _ in child._drive(child.state):
                self.clock = max(self.clock, child.clock)
                yield  # the child run waits for input, and this run with it
        except ExecutorFailedError as exc:
            raise child_failure(node.id, state.superstep, exc) from exc
        except DurableWorkflowsError as exc:
            error = ExecutorFailedError(node.id, str(exc), error_type_name(type(exc)), state.superstep)
            raise error from exc
        finally:
            del self.children[key]
        self.clock = max(self.clock, child.clock)
        outputs = [registry.decode(registry.encode(value)) for value in child.state.outputs]
        return InvocationResult(sent=[SentMessage(value, None, returned=True) for value in outputs])

    def _child_runner(self, workflow: Workflow, key: str) -> InProcessRunner:
        """The runner of a child run (asking this run's responder, with prefixed ids)."""
        responses = self.responses
        node_id = key.split(":", 1)[0]

        def ask(event: WaitingForInputEvent) -> Any:
            assert responses is not None
            copy = qualified(event, node_id, key)
            assert isinstance(copy, WaitingForInputEvent)
            return responses(copy)

        return InProcessRunner(workflow, ask if responses is not None else None)

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
            self.trail.append(("answer", (self.qualify(request_id), response)))
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
        if self.forward is not None and events:
            self.forward(events)


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
