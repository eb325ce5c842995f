"""Registering workflows and agents with a durabletask worker: orchestrator, activities, entities."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from ..errors import DurableWorkflowsError, WorkflowDefinitionError
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import DEFAULT_SESSION_TTL, WorkflowAgent, uses_tools
from ..model.executors import Executor
from ..runtime.invoke import invoke_executor
from ..runtime.wire import encode_result
from ..values.serialization import TypeRegistry
from .agent_entity import make_agent_entity, make_agent_turn_orchestrator, make_tool_activity
from .agent_stream import StreamSignaller, agent_stream_entity
from .names import (
    AGENT_STREAM_ENTITY,
    EVENT_LOG_ENTITY,
    SHARED_STATE_ENTITY,
    activity_name,
    agent_entity_name,
    orchestrator_name,
)
from .orchestrator import OrchestratorDriver
from .payloads import DEFAULT_MAX_PAYLOAD_BYTES, check_payload, payload_size
from .response_formats import ResponseFormatError, format_ref
from .seam import DurableTaskSeam
from .shared_state import SharedStateReader, shared_state_entity
from .user_orchestrations import check_unique, wrap_orchestration


def make_orchestrator(
    workflow: Workflow,
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    shared_by_reference: bool = False,
) -> Callable[[Any, Any], Any]:
    """The orchestrator function for `workflow` (named for registration).

    `shared_by_reference` lets it pass large shared state by reference: only when the
    workflow's activities get a `SharedStateReader`.
    """

    def orchestrator(ctx: Any, payload: Any) -> Any:
        driver = OrchestratorDriver(
            workflow,
            DurableTaskSeam(ctx),
            payload,
            max_payload_bytes=max_payload_bytes,
            shared_by_reference=shared_by_reference,
        )
        return (yield from driver.run())

    orchestrator.__name__ = orchestrator_name(workflow.name)
    return orchestrator


def make_activity(
    workflow: Workflow,
    node_id: str,
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    shared_state: SharedStateReader | None = None,
) -> Callable[[Any, Any], Any]:
    """The activity that runs executor `node_id` of `workflow` on one message.

    A result over `max_payload_bytes` fails the executor with `PayloadTooLargeError`.
    """
    decode = workflow.registry.decode

    def activity(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
        encoded = payload.get("shared", {})
        if "shared_ref" in payload:
            if shared_state is None:
                msg = (
                    f"executor {node_id!r} got shared state by reference, but this worker "
                    "cannot read it: register workflows with a SharedStateReader "
                    "(DurableWorkflowHost does)"
                )
                raise DurableWorkflowsError(msg)
            encoded = shared_state.read(payload["run_id"], payload["shared_ref"])
        shared = {k: decode(v) for k, v in encoded.items()}
        result = invoke_executor(
            workflow,
            node_id,
            decode(payload["message"]),
            shared,
            run_id=payload["run_id"],
            superstep=payload["superstep"],
        )
        data = encode_result(workflow, node_id, result)
        what = (
            f"The result of executor {node_id!r} in run {payload['run_id']!r} (its messages, "
            "outputs, events and state updates together)"
        )
        check_payload(payload_size(data), max_payload_bytes, what)
        return data

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


def register(
    worker: Any,
    workflows: Iterable[Workflow],
    agents: Iterable[WorkflowAgent] = (),
    *,
    orchestrations: Iterable[Callable[..., Any]] = (),
    activities: Iterable[Callable[..., Any]] = (),
    default_session_ttl: timedelta | None = DEFAULT_SESSION_TTL,
    stream_signaller: StreamSignaller | None = None,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    shared_state: SharedStateReader | None = None,
) -> list[str]:
    """Register everything the workflows and agents need with a durabletask worker, and the
    hand-written `orchestrations` and `activities` (by function name). Agents whose
    `session_ttl` is ``"default"`` use `default_session_ttl`; streamed turns publish their
    deltas through `stream_signaller`. Payloads over `max_payload_bytes` fail their run with an
    error naming them. With a `shared_state` reader (a client of the same backend), large
    shared state is stored once per change and read by reference instead of being copied
    into every activity input."""
    names: list[str] = []
    all_agents: dict[str, WorkflowAgent] = {}
    registries: dict[str, dict[str, TypeRegistry]] = {}  # agent -> workflow -> its types
    for agent in agents:
        all_agents[agent.name] = agent
    seen_workflows: set[str] = set()
    for workflow in workflows:
        if workflow.name in seen_workflows:
            msg = f"two workflows are named {workflow.name!r}; workflow names must be unique"
            raise WorkflowDefinitionError(msg)
        seen_workflows.add(workflow.name)
        orchestrator = make_orchestrator(
            workflow,
            max_payload_bytes=max_payload_bytes,
            shared_by_reference=shared_state is not None,
        )
        names.append(worker.add_orchestrator(orchestrator))
        for node in workflow.nodes.values():
            if isinstance(node, Executor):
                activity = make_activity(
                    workflow,
                    node.id,
                    max_payload_bytes=max_payload_bytes,
                    shared_state=shared_state,
                )
                names.append(worker.add_activity(activity))
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
    names.append(worker.add_entity(shared_state_entity, name=SHARED_STATE_ENTITY))
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
