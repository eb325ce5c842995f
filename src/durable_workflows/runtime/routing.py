"""Routing: where a sent message goes (edges, conditions, switch-case groups, fan-in barriers).

Part of the superstep engine (`engine.py`): pure functions over a `Workflow` and a `RunState`.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import WorkflowRuntimeError
from ..graph.workflow import Workflow
from ..model.context import SentMessage
from ..model.edges import FanInEdge, FanOutEdge, SingleEdge, SwitchCaseEdge, condition_name
from ..values.typing_utils import a_type, matches, short_name
from .events import WorkflowEvent, WorkflowOutputEvent
from .state import Delivery, RunState


def output(
    state: RunState, events: list[WorkflowEvent], node_id: str, value: Any
) -> None:
    """Record `value` as a workflow output of `node_id`."""
    state.outputs.append(value)
    events.append(WorkflowOutputEvent(executor_id=node_id, data=value))

def route(
    workflow: Workflow, state: RunState, events: list[WorkflowEvent], source: str, sent: SentMessage
) -> None:
    """Send a message `source` sent along its outgoing edges (docs/semantics.md, routing)."""
    groups = workflow.outgoing[source]
    value, target_id = sent.value, sent.target_id
    _check_sent_type(workflow, source, value)
    if target_id is not None and target_id not in workflow.successors[source]:
        successors = sorted(workflow.successors[source])
        msg = (
            f"{source!r} sent a message to {target_id!r}, which is not one of its "
            f"successors {successors}; add an edge {source!r} -> {target_id!r} or fix target_id"
        )
        raise WorkflowRuntimeError(msg)
    if not groups:
        if sent.returned:
            output(state, events, source, value)
            return
        msg = (
            f"{source!r} sent a message but has no outgoing edges; add an edge from it, or "
            "use ctx.yield_output(...) to produce a workflow output"
        )
        raise WorkflowRuntimeError(msg)
    for group in groups:
        if isinstance(group, SingleEdge):
            if _wanted(target_id, group.target) and _passes(group, source, value):
                state.pending.append(Delivery(group.target, value, source))
        elif isinstance(group, FanOutEdge):
            targets = (
                group.targets
                if target_id is None
                else [t for t in group.targets if t == target_id]
            )
            state.pending += [Delivery(t, value, source) for t in targets]
        elif isinstance(group, SwitchCaseEdge):
            selected = _select_case(group, value)
            if selected is not None and _wanted(target_id, selected):
                state.pending.append(Delivery(selected, value, source))
        elif isinstance(group, FanInEdge) and _wanted(target_id, group.target):
            state.barriers[group.id][source].append(value)

def _check_sent_type(workflow: Workflow, source: str, value: Any) -> None:
    declared = workflow.nodes[source].output_types
    if type(value) in declared or any(matches(value, t) for t in declared):
        return  # (a value whose exact class is declared matches it: the cheap check first)
    names = " | ".join(short_name(t) for t in declared) or "nothing (it returns None)"
    msg = (
        f"{source!r} sent {a_type(value)}, but it declares that it sends "
        f"{names}; fix the return annotation / WorkflowContext[...] or the value"
    )
    raise WorkflowRuntimeError(msg)

def _passes(edge: SingleEdge, source: str, value: Any) -> bool:
    if edge.condition is None:
        return True
    where = f"the condition {condition_name(edge.condition)!r} of edge {source!r} -> {edge.target!r}"
    return _evaluate(edge.condition, value, where)

def _select_case(group: SwitchCaseEdge, value: Any) -> str | None:
    for condition, target, label in group.cases:
        where = f"case {label!r} of the switch-case group from {group.source!r}"
        if _evaluate(condition, value, where):
            return target
    return group.default

def can_fire(workflow: Workflow, state: RunState) -> bool:
    """Whether a fan-in barrier has a message from each of its sources."""
    return any(all(state.barriers[g.id][s] for s in g.sources) for g in workflow.fan_ins)

def fire_barriers(workflow: Workflow, state: RunState) -> None:
    """Deliver a batch to each barrier that has a message from each of its sources."""
    for group in workflow.fan_ins:
        queues = state.barriers[group.id]
        while all(queues[s] for s in group.sources):
            batch = [queues[s].pop(0) for s in group.sources]
            state.pending.append(Delivery(group.target, batch, group.id))


def _wanted(target_id: str | None, target: str) -> bool:
    return target_id is None or target_id == target


def _evaluate(condition: Any, value: Any, where: str) -> bool:
    try:
        outcome = condition(value)
    except Exception as exc:
        msg = f"{where} raised {type(exc).__name__}: {exc}"
        raise WorkflowRuntimeError(msg) from exc
    if inspect.isawaitable(outcome):
        if inspect.iscoroutine(outcome):
            outcome.close()
        msg = f"{where} returned an awaitable; conditions must be plain, synchronous functions"
        raise WorkflowRuntimeError(msg)
    return bool(outcome)
