"""Replay before deploy: does the current code still agree with a recorded run?

`replay(workflow, history)` runs the current workflow's orchestrator over a history exported
with `WorkflowClient.export_history`, the way a worker replays it after a deploy, with
durabletask's own replay engine. It raises `WorkflowGraphMismatchError` when the graph changed
(naming what changed, when the history carries the old plan) and `NondeterminismError` at the
first place where the current code would do something else than the recorded run did: invoke
another executor, send it another message, publish other events, or end differently.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from ..errors import DurableWorkflowsError, WorkflowGraphMismatchError
from ..graph.workflow import Workflow
from .history import RecordedHistory, load_history
from .names import EVENT_LOG_ENTITY, activity_name
from .registration import make_orchestrator

_QUIET = logging.getLogger("durable_workflows.replay")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
_QUIET.setLevel(logging.WARNING)


class NondeterminismError(DurableWorkflowsError):
    """Replaying a recorded run with the current code diverged; the message says where."""

    def __init__(self, message: str, position: int | None) -> None:
        super().__init__(message)
        self.position = position
        """Index of the first diverging history event (None: at the end of the history)."""


@dataclass(frozen=True)
class ReplayReport:
    """What a successful replay covered."""

    run_id: str
    events: int
    completed: bool
    """Whether the recorded run had ended (and the current code ends it the same way)."""


def replay(
    workflow: Workflow, history: RecordedHistory | dict[str, Any] | str | os.PathLike[str]
) -> ReplayReport:
    """Replay `history` (a document, its JSON text, or a file) with `workflow`'s current code."""
    recorded = history if isinstance(history, RecordedHistory) else load_history(history)
    _check_graph(workflow, recorded)
    if not recorded.events:
        msg = f"the history of run {recorded.run_id!r} is empty (it has not started yet)"
        raise DurableWorkflowsError(msg)
    replayer = _replayer(workflow)
    split = max(i for i, e in enumerate(recorded.events) if e.HasField("orchestratorStarted"))
    result = replayer.execute(recorded.run_id, recorded.events[:split], recorded.events[split:])
    if replayer.divergence is not None:
        raise replayer.divergence
    return _check_end(workflow, recorded, result.actions)


def _check_graph(workflow: Workflow, recorded: RecordedHistory) -> None:
    if recorded.workflow_name != workflow.name:
        msg = (
            f"the history is of workflow {recorded.workflow_name!r}, not {workflow.name!r}; "
            "replay it against the workflow that recorded it"
        )
        raise WorkflowGraphMismatchError(msg)
    if recorded.graph_hash == workflow.graph_hash:
        return
    changes = plan_changes(recorded.plan, workflow.plan.to_dict()) if recorded.plan else []
    what = (
        "; ".join(changes[:5])
        if changes
        else "the history carries no plan to compare (export it from a client that knows the old workflow)"
    )
    msg = (
        f"the graph of {workflow.name!r} changed: run {recorded.run_id!r} was started with graph "
        f"hash {recorded.graph_hash}, the current code has {workflow.graph_hash} ({what}). A "
        "worker with this code fails the run; give the change a new version= and keep the old "
        "definition registered with previous_versions= until the run finishes (docs/versioning.md)"
    )
    raise WorkflowGraphMismatchError(msg)


def plan_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two plans (`ExecutionPlan.to_dict()`), most significant first."""
    changes = [
        f"{key} {old.get(key)!r} -> {new.get(key)!r}"
        for key in ("name", "start", "max_supersteps")
        if old.get(key) != new.get(key)
    ]
    for kind, key in (("node", "nodes"), ("edge group", "edge_groups")):
        before = {item["id"]: item for item in old.get(key, [])}
        after = {item["id"]: item for item in new.get(key, [])}
        changes += [f"{kind} {i!r} was removed" for i in before if i not in after]
        changes += [f"{kind} {i!r} was added" for i in after if i not in before]
        for i in before.keys() & after.keys():
            for field, value in before[i].items():
                if after[i].get(field) != value:
                    changes.append(f"{kind} {i!r}: {field} {value!r} -> {after[i].get(field)!r}")
    return changes


def _replayer(workflow: Workflow) -> Any:
    """durabletask's orchestration executor, watching each event for a divergence."""
    from durabletask import task
    from durabletask import worker as dt_worker
    from durabletask.serialization import JsonDataConverter

    registry = dt_worker._Registry()  # type: ignore[no-untyped-call]
    orchestrator = make_orchestrator(workflow)
    registry.add_named_orchestrator(orchestrator.__name__, orchestrator)

    class Replayer(dt_worker._OrchestrationExecutor):
        def __init__(self) -> None:
            super().__init__(registry, _QUIET, JsonDataConverter())
            self.position = -1
            self.divergence: NondeterminismError | None = None

        def process_event(self, ctx: Any, event: Any) -> None:
            self.position += 1
            action = ctx._pending_actions.get(event.eventId) if event.eventId >= 0 else None
            changed = _changed_payload(workflow, event, action)
            try:
                if changed is not None:
                    raise task.NonDeterminismError(changed)
                super().process_event(ctx, event)
            except task.NonDeterminismError as exc:
                if self.divergence is None:
                    pending = [action] if action is not None else []
                    pending += [a for a in ctx._pending_actions.values() if a is not action]
                    self.divergence = _divergence(
                        workflow, self.position, event, pending, changed, exc
                    )
                raise

    return Replayer()


def _changed_payload(workflow: Workflow, event: Any, action: Any) -> str | None:
    """Same step, other data: an executor gets another message, or other events are published."""
    if action is None:
        return None
    if event.HasField("taskScheduled") and action.HasField("scheduleTask"):
        recorded, current = event.taskScheduled, action.scheduleTask
        if recorded.name == current.name and _untraced(recorded.input.value) != _untraced(
            current.input.value
        ):
            return (
                f"{_describe_task(workflow, recorded.name, recorded.input.value)} was sent a "
                f"different message: recorded {_message(recorded.input.value)}, now "
                f"{_message(current.input.value)}"
            )
    if event.HasField("entityOperationSignaled") and action.HasField("sendEntityMessage"):
        recorded = event.entityOperationSignaled
        current = action.sendEntityMessage.entityOperationSignaled
        if recorded.input.value != current.input.value:
            return _first_event_change(_loads(recorded.input.value), _loads(current.input.value))
    return None


def _divergence(
    workflow: Workflow,
    position: int,
    event: Any,
    pending: list[Any],
    changed: str | None,
    exc: Exception,
) -> NondeterminismError:
    where = f"history event {position}"
    if changed is not None:
        return NondeterminismError(f"replay diverged at {where}: {changed}", position)
    recorded = _describe_event(workflow, event)
    actions = [_describe_action(workflow, a) for a in pending]
    instead = (
        "; ".join(actions) if actions else "not (it waits for something else, or has ended)"
    )
    msg = (
        f"replay diverged at {where}: the recorded run {recorded}, but the current code would "
        f"{instead}. Conditions run in the orchestrator: changing what they decide changes the "
        "runs in flight"
    )
    return NondeterminismError(msg, position)


def _check_end(workflow: Workflow, recorded: RecordedHistory, actions: list[Any]) -> ReplayReport:
    ended = next((e.executionCompleted for e in recorded.events if e.HasField("executionCompleted")), None)
    complete = next((a.completeOrchestration for a in actions if a.HasField("completeOrchestration")), None)
    scheduled = [a for a in actions if not a.HasField("completeOrchestration")]
    count = len(recorded.events)
    if ended is None:
        if scheduled:
            what = "; ".join(_describe_action(workflow, a) for a in scheduled)
            msg = (
                "replay diverged at the end of the history: the current code would also "
                f"{what}, which the recorded run had not done"
            )
            raise NondeterminismError(msg, None)
        if complete is not None:
            msg = "replay diverged at the end of the history: the current code ends the run, which the recorded run had not done"
            raise NondeterminismError(msg, None)
        return ReplayReport(recorded.run_id, count, completed=False)
    if complete is None or complete.orchestrationStatus != ended.orchestrationStatus:
        what = "; ".join(_describe_action(workflow, a) for a in scheduled) or "not end it"
        msg = f"replay diverged at the end: the recorded run ended, the current code would {what}"
        raise NondeterminismError(msg, None)
    before, after = ended.result.value, complete.result.value
    if before != after and _loads(before) != _loads(after):
        msg = f"replay diverged at the end: the recorded run ended with {before:.300}, the current code with {after:.300}"
        raise NondeterminismError(msg, None)
    return ReplayReport(recorded.run_id, count, completed=True)


# -- describing history events and actions in workflow terms --------------------------------


def _describe_event(workflow: Workflow, event: Any) -> str:
    if event.HasField("taskScheduled"):
        scheduled = event.taskScheduled
        return f"invoked {_describe_task(workflow, scheduled.name, scheduled.input.value)}"
    if event.HasField("timerCreated"):
        return "started a timer (a timeout or a retry's backoff)"
    if event.HasField("entityOperationSignaled"):
        return "published events"
    if event.HasField("entityOperationCalled"):
        return f"called {event.entityOperationCalled.targetInstanceId.value}"
    return f"recorded {event.WhichOneof('eventType')}"


def _describe_action(workflow: Workflow, action: Any) -> str:
    if action.HasField("scheduleTask"):
        task = action.scheduleTask
        return f"invoke {_describe_task(workflow, task.name, task.input.value)}"
    if action.HasField("createTimer"):
        return "start a timer (a timeout or a retry's backoff)"
    if action.HasField("sendEntityMessage"):
        message = action.sendEntityMessage
        if message.HasField("entityOperationSignaled"):
            target = message.entityOperationSignaled.targetInstanceId.value
            return "publish events" if EVENT_LOG_ENTITY in target else f"signal {target}"
        return "call an agent"
    if action.HasField("completeOrchestration"):
        return "end the run"
    return str(action.WhichOneof("orchestratorActionType"))


def _describe_task(workflow: Workflow, name: str, payload: str) -> str:
    prefix = activity_name(workflow.name, workflow.version, "")
    node = name.removeprefix(prefix) if name.startswith(prefix) else name.rsplit(".", 1)[-1]
    data = _loads(payload)
    superstep = f" in superstep {data['superstep']}" if isinstance(data, dict) and "superstep" in data else ""
    return f"executor {node!r}{superstep}"


def _message(payload: str) -> str:
    data = _loads(payload)
    message = data.get("message") if isinstance(data, dict) else data
    if isinstance(message, dict) and "data" in message:
        message = message["data"]
    return json.dumps(message)[:300]


def _first_event_change(recorded: Any, current: Any) -> str:
    """The first event of a published batch that differs, described in workflow terms."""
    if not (isinstance(recorded, list) and isinstance(current, list)):
        return f"the run publishes different events: recorded {recorded!r:.200}, now {current!r:.200}"
    for before, after in zip(recorded, current, strict=False):
        if before != after:
            sequence = before.get("sequence", "?") if isinstance(before, dict) else "?"
            return (
                f"the run's event {sequence} differs: recorded {_event(before)}, "
                f"now {_event(after)}"
            )
    longer = recorded if len(recorded) > len(current) else current
    extra = _event(longer[min(len(recorded), len(current))])
    side = "recorded run" if longer is recorded else "current code"
    return f"only the {side} publishes the event {extra}"


def _event(data: Any) -> str:
    if not isinstance(data, dict):
        return repr(data)[:200]
    fields = {k: v for k, v in data.items() if k not in ("run_id", "sequence", "type")}
    return f"{data.get('type')} {json.dumps(fields)[:200]}"


def _untraced(payload: str) -> Any:
    """An activity input without its trace context (recorded only while tracing)."""
    data = _loads(payload)
    if isinstance(data, dict):
        data.pop("trace", None)
    return data


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text
