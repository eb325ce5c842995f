"""A synchronous fake of `OrchestrationSeam` for driving `OrchestratorDriver` without a backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from durable_workflows.durable.names import activity_name
from durable_workflows.durable.registration import make_activity
from durable_workflows.graph.workflow import Workflow
from durable_workflows.model.policies import RetryPolicy


@dataclass
class FakeTask:
    kind: str
    name: str = ""
    complete: bool = False
    value: Any = None
    error: tuple[str, str] | None = None
    fire_at: datetime | None = None
    children: list[FakeTask] = field(default_factory=list)


class FakeSeam:
    """Runs activities synchronously, resolves when_all/when_any, scripts external events.

    `events` maps an event name (request id) to its payload, or a callable taking the seam's
    pending request ids (from the last status) and returning {request_id: payload}.
    With `fire_timers=True`, a when_any with nothing else complete fires its earliest timer.
    """

    def __init__(
        self,
        workflow: Workflow,
        instance_id: str = "run-1",
        *,
        responder: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        fire_timers: bool = True,
        hang: frozenset[str] = frozenset(),
    ) -> None:
        self.workflow = workflow
        self._instance_id = instance_id
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)
        self.responder = responder
        self.fire_timers = fire_timers
        self.hang = hang
        """Node ids whose activities never complete (to exercise executor timeouts)."""
        self.activities = {
            activity_name(workflow.name, workflow.version, node_id): make_activity(workflow, node_id)
            for node_id in workflow.nodes
        }
        self.activity_calls: list[str] = []
        self.statuses: list[Any] = []
        self.continued: list[Any] = []
        self.signals: list[tuple[str, str, str, Any]] = []
        self.event_waits: dict[str, FakeTask] = {}
        self.timers: list[FakeTask] = []

    # -- protocol --------------------------------------------------------------------------
    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def now(self) -> datetime:
        return self.clock

    is_replaying = False

    def call_activity(self, name: str, payload: Any, retry: RetryPolicy | None) -> FakeTask:
        self.activity_calls.append(name)
        if name.rsplit(".", 1)[-1] in self.hang:
            return FakeTask("activity", name)
        task = FakeTask("activity", name, complete=True)
        attempts = retry.max_attempts if retry else 1
        for attempt in range(attempts):
            try:
                task.value = self.activities[name](None, payload)
                task.error = None
                break
            except Exception as exc:
                task.error = (str(exc), type(exc).__name__)
                if attempt + 1 < attempts:
                    continue
        return task

    def call_entity(self, name: str, key: str, operation: str, payload: Any) -> FakeTask:
        raise AssertionError("no agents in the fake-seam tests")

    def call_sub_orchestrator(
        self, name: str, payload: Any, *, instance_id: str | None = None
    ) -> FakeTask:
        raise AssertionError("no agents in the fake-seam tests")

    def signal_entity(self, name: str, key: str, operation: str, payload: Any) -> None:
        self.signals.append((name, key, operation, payload))

    def wait_for_event(self, name: str) -> FakeTask:
        task = FakeTask("event", name)
        self.event_waits[name] = task
        return task

    def timer(self, fire_at: datetime) -> FakeTask:
        task = FakeTask("timer", fire_at=fire_at)
        self.timers.append(task)
        return task

    def when_all(self, tasks: list[Any]) -> FakeTask:
        return FakeTask("all", children=list(tasks))

    def when_any(self, tasks: list[Any]) -> FakeTask:
        return FakeTask("any", children=list(tasks))

    def is_complete(self, task: Any) -> bool:
        return bool(task.complete)

    def failure(self, task: Any) -> tuple[str, str] | None:
        return task.error

    def result(self, task: Any) -> Any:
        if task.kind == "any":
            return next(t for t in task.children if t.complete)
        return task.value

    def set_status(self, status: Any) -> None:
        self.statuses.append(status)

    def continue_as_new(self, payload: Any) -> None:
        self.continued.append(payload)

    # -- driving ---------------------------------------------------------------------------
    def resolve(self, task: FakeTask) -> None:
        """Complete a yielded composite task (or raise AssertionError if it would hang)."""
        if task.kind == "all":
            for child in task.children:
                self.resolve(child)
            failed = next((c for c in task.children if c.error), None)
            task.complete = True
            if failed is not None:
                task.error = failed.error
            return
        if task.kind == "any":
            for child in task.children:
                if child.kind == "all":  # the fake's tasks finish synchronously
                    self.resolve(child)
            if any(c.complete for c in task.children):
                task.complete = True
                return
            self._deliver_events(task)
            if not any(c.complete for c in task.children) and self.fire_timers:
                timers = [c for c in task.children if c.kind == "timer"]
                if timers:
                    first = min(timers, key=lambda t: t.fire_at)
                    self.clock = max(self.clock, first.fire_at)
                    first.complete = True
            if not any(c.complete for c in task.children):
                raise AssertionError("the orchestrator waits on something that never completes")
            task.complete = True
            return
        if task.kind == "event":
            self._deliver_events(FakeTask("any", children=[task]))
        if not task.complete:
            raise AssertionError(f"the orchestrator waits on an incomplete {task.kind} task")

    def _deliver_events(self, composite: FakeTask) -> None:
        if self.responder is None:
            return
        pending = {c.name: c for c in composite.children if c.kind == "event" and not c.complete}
        if not pending:
            return
        status = self.statuses[-1] if self.statuses else {"requests": []}
        for request_id, payload in self.responder(status).items():
            if request_id in pending:
                pending[request_id].value = payload
                pending[request_id].complete = True

    def drive(self, generator: Any) -> Any:
        """Run an orchestrator generator to its end; returns its return value."""
        try:
            task = next(generator)
            while True:
                self.resolve(task)
                if task.error is not None:
                    task = generator.throw(RuntimeError(task.error[0]))
                else:
                    task = generator.send(self.result(task) if task.kind == "any" else task.value)
        except StopIteration as stop:
            return stop.value
