"""Registering workflows and agents with a durabletask worker: orchestrator, activities, entities."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..errors import DurableWorkflowsError, WorkflowDefinitionError
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import WorkflowAgent
from ..model.executors import Executor
from ..runtime.invoke import invoke_executor
from ..runtime.wire import encode_result
from .agent_entity import agent_turn_orchestrator, make_agent_entity
from .names import (
    EVENT_LOG_ENTITY,
    SHARED_STATE_ENTITY,
    activity_name,
    agent_entity_name,
    orchestrator_name,
)
from .orchestrator import OrchestratorDriver
from .payloads import DEFAULT_MAX_PAYLOAD_BYTES, check_payload, payload_size
from .seam import DurableTaskSeam
from .shared_state import SharedStateReader, shared_state_entity


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


def register(
    worker: Any,
    workflows: Iterable[Workflow],
    agents: Iterable[WorkflowAgent] = (),
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    shared_state: SharedStateReader | None = None,
) -> list[str]:
    """Register everything the workflows and agents need with a durabletask worker.

    Payloads over `max_payload_bytes` fail their run with an error naming them. With a
    `shared_state` reader (a client of the same backend), large shared state is stored once
    per change and read by reference instead of being copied into every activity input.
    """
    names: list[str] = []
    all_agents: dict[str, WorkflowAgent] = {}
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
        names.append(worker.add_entity(make_agent_entity(agent), name=agent_entity_name(name)))
    names.append(worker.add_entity(event_log_entity, name=EVENT_LOG_ENTITY))
    names.append(worker.add_entity(shared_state_entity, name=SHARED_STATE_ENTITY))
    if all_agents:
        names.append(worker.add_orchestrator(agent_turn_orchestrator))
    return names
