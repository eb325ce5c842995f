"""Registering workflows and agents with a durabletask worker: orchestrator, activities, entities."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from ..errors import WorkflowDefinitionError
from ..graph.subworkflow import SubWorkflow
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import DEFAULT_SESSION_TTL, WorkflowAgent, uses_tools
from ..model.executors import Executor
from ..runtime.invoke import invoke_executor
from ..runtime.wire import decode_message, encode_result
from ..values.serialization import TypeRegistry
from .agent_entity import make_agent_entity, make_agent_turn_orchestrator, make_tool_activity
from .agent_stream import StreamSignaller, agent_stream_entity
from .names import (
    AGENT_STREAM_ENTITY,
    EVENT_LOG_ENTITY,
    activity_name,
    agent_entity_name,
    orchestrator_name,
)
from .orchestrator import OrchestratorDriver
from .response_formats import ResponseFormatError, format_ref
from .seam import DurableTaskSeam
from .user_orchestrations import check_unique, wrap_orchestration


def make_orchestrator(workflow: Workflow) -> Callable[[Any, Any], Any]:
    """The orchestrator function for `workflow` (named for registration)."""

    def orchestrator(ctx: Any, payload: Any) -> Any:
        driver = OrchestratorDriver(workflow, DurableTaskSeam(ctx), payload)
        return (yield from driver.run())

    orchestrator.__name__ = orchestrator_name(workflow.name)
    return orchestrator


def make_activity(workflow: Workflow, node_id: str) -> Callable[[Any, Any], Any]:
    """The activity that runs executor `node_id` of `workflow` on one message."""
    decode = workflow.registry.decode

    def activity(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
        shared = {k: decode(v) for k, v in payload.get("shared", {}).items()}
        result = invoke_executor(
            workflow,
            node_id,
            decode_message(workflow, node_id, payload["message"]),
            shared,
            run_id=payload["run_id"],
            superstep=payload["superstep"],
        )
        return encode_result(workflow, node_id, result)

    activity.__name__ = activity_name(workflow.name, node_id)
    return activity


def event_log_entity(ctx: Any, payload: Any) -> Any:
    """Appends event batches to one chunk of a run's event log; `get` returns the chunk."""
    events: list[Any] = ctx.get_state(None) or []
    if ctx.operation == "append":
        known = {e["sequence"] for e in events}
        events += [e for e in payload if e["sequence"] not in known]
        ctx.set_state(events)
        return None
    return events


def _check_format(workflow: Workflow, node: AgentNode) -> None:
    """A node's per-call response format must be importable by workers (checked at start)."""
    try:
        format_ref(node.response_format)
    except ResponseFormatError as exc:
        msg = f"workflow {workflow.name!r}, agent node {node.id!r}: {exc}"
        raise WorkflowDefinitionError(msg) from exc


def with_children(workflows: Iterable[Workflow]) -> list[Workflow]:
    """The workflows and, recursively, those their sub-workflow nodes run (each once)."""
    found: dict[int, Workflow] = {}

    def visit(workflow: Workflow) -> None:
        if id(workflow) in found:
            return
        found[id(workflow)] = workflow
        for node in workflow.nodes.values():
            if isinstance(node, SubWorkflow):
                visit(node.workflow)

    for workflow in workflows:
        visit(workflow)
    return list(found.values())


def register(
    worker: Any,
    workflows: Iterable[Workflow],
    agents: Iterable[WorkflowAgent] = (),
    *,
    orchestrations: Iterable[Callable[..., Any]] = (),
    activities: Iterable[Callable[..., Any]] = (),
    default_session_ttl: timedelta | None = DEFAULT_SESSION_TTL,
    stream_signaller: StreamSignaller | None = None,
) -> list[str]:
    """Register everything the workflows and agents need with a durabletask worker, and the
    hand-written `orchestrations` and `activities` (by function name). Agents whose
    `session_ttl` is ``"default"`` use `default_session_ttl`; streamed turns publish their
    deltas through `stream_signaller`."""
    names: list[str] = []
    all_agents: dict[str, WorkflowAgent] = {}
    registries: dict[str, dict[str, TypeRegistry]] = {}  # agent -> workflow -> its types
    for agent in agents:
        all_agents[agent.name] = agent
    seen_workflows: set[str] = set()
    for workflow in with_children(workflows):
        if workflow.name in seen_workflows:
            msg = f"two workflows are named {workflow.name!r}; workflow names must be unique"
            raise WorkflowDefinitionError(msg)
        seen_workflows.add(workflow.name)
        names.append(worker.add_orchestrator(make_orchestrator(workflow)))
        for node in workflow.nodes.values():
            if isinstance(node, Executor):
                names.append(worker.add_activity(make_activity(workflow, node.id)))
            elif isinstance(node, AgentNode):
                _check_format(workflow, node)
                registries.setdefault(node.agent.name, {})[workflow.name] = workflow.registry
                other = all_agents.setdefault(node.agent.name, node.agent)
                if other is not node.agent:
                    msg = f"two different agents are named {node.agent.name!r}; agent names must be unique"
                    raise WorkflowDefinitionError(msg)
    lowered: dict[str, str] = {}
    for name, agent in all_agents.items():
        clash = lowered.setdefault(name.lower(), name)
        if clash != name:
            msg = f"agents {clash!r} and {name!r} differ only in case; entity names ignore case"
            raise WorkflowDefinitionError(msg)
        entity = make_agent_entity(
            agent, registries.get(name), default_session_ttl, stream_signaller
        )
        names.append(worker.add_entity(entity, name=agent_entity_name(name)))
        if uses_tools(agent):
            names.append(worker.add_activity(make_tool_activity(agent)))
    names.append(worker.add_entity(event_log_entity, name=EVENT_LOG_ENTITY))
    if all_agents:
        names.append(worker.add_orchestrator(make_agent_turn_orchestrator(all_agents)))
        names.append(worker.add_entity(agent_stream_entity, name=AGENT_STREAM_ENTITY))
    orchestrations, activities = list(orchestrations), list(activities)
    check_unique(orchestrations, "orchestration")
    check_unique(activities, "activity")
    for function in orchestrations:
        names.append(worker.add_orchestrator(wrap_orchestration(function, all_agents)))
    for function in activities:
        names.append(worker.add_activity(function))
    return names
