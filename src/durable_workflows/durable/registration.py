"""Registering workflows and agents with a durabletask worker: orchestrator, activities, entities."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..errors import WorkflowDefinitionError
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import WorkflowAgent
from ..model.executors import Executor
from ..runtime.invoke import invoke_executor
from ..runtime.wire import encode_result
from ..values.serialization import TypeRegistry
from .agent_entity import agent_turn_orchestrator, make_agent_entity
from .names import (
    AGENT_TURN_ORCHESTRATOR,
    EVENT_LOG_ENTITY,
    activity_name,
    agent_entity_name,
    orchestrator_name,
)
from .orchestrator import OrchestratorDriver
from .seam import DurableTaskSeam
from .telemetry import step_span
from .versions import WorkflowVersions


def make_orchestrator(
    workflows: WorkflowVersions | Workflow, name: str | None = None
) -> Callable[[Any, Any], Any]:
    """The orchestrator of workflow `name`: replays each run on the version it started with.

    Given one `Workflow`, it runs every run on that definition (replay before deploy).
    """
    if isinstance(workflows, Workflow):
        name = workflows.name
    assert name is not None

    def orchestrator(ctx: Any, payload: Any) -> Any:
        seam = DurableTaskSeam(ctx)
        if isinstance(workflows, Workflow):
            workflow = workflows
        else:
            workflow = workflows.for_run(name, payload, seam.instance_id)
        driver = OrchestratorDriver(workflow, seam, payload)
        return (yield from driver.run())

    orchestrator.__name__ = orchestrator_name(name)
    return orchestrator


def make_activity(workflow: Workflow, node_id: str) -> Callable[[Any, Any], Any]:
    """The activity that runs executor `node_id` of `workflow` on one message."""
    decode = workflow.registry.decode

    attributes = {
        "workflow.name": workflow.name,
        "workflow.version": workflow.version,
        "workflow.node_id": node_id,
    }

    def activity(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
        run = {"workflow.run_id": payload["run_id"], "workflow.superstep": payload["superstep"]}
        with step_span("executor", node_id, payload, {**attributes, **run}):
            shared = {k: decode(v) for k, v in payload.get("shared", {}).items()}
            result = invoke_executor(
                workflow,
                node_id,
                decode(payload["message"]),
                shared,
                run_id=payload["run_id"],
                superstep=payload["superstep"],
            )
            return encode_result(workflow, node_id, result)

    activity.__name__ = activity_name(workflow.name, workflow.version, node_id)
    return activity


def event_log_entity(ctx: Any, payload: Any) -> Any:
    """Appends event batches to one chunk of a run's event log; `get` returns the chunk;
    `delete` removes it (retention)."""
    if ctx.operation == "delete":
        ctx.set_state(None)
        return None
    events: list[Any] = ctx.get_state(None) or []
    if ctx.operation == "append":
        known = {e["sequence"] for e in events}
        events += [e for e in payload if e["sequence"] not in known]
        ctx.set_state(events)
        return None
    return events


def register(
    worker: Any,
    workflows: Iterable[Workflow] | WorkflowVersions,
    agents: Iterable[WorkflowAgent] = (),
) -> list[str]:
    """Register everything the workflows (every version) and agents need with a worker."""
    versions = workflows if isinstance(workflows, WorkflowVersions) else WorkflowVersions(workflows)
    names: list[str] = []
    all_agents: dict[str, WorkflowAgent] = {}
    registries: dict[str, dict[str, TypeRegistry]] = {}  # agent -> workflow -> its types
    for agent in agents:
        all_agents[agent.name] = agent
    for name in versions.current:
        names.append(worker.add_orchestrator(make_orchestrator(versions, name)))
    for workflow in versions:
        for node in workflow.nodes.values():
            if isinstance(node, Executor):
                names.append(worker.add_activity(make_activity(workflow, node.id)))
            elif isinstance(node, AgentNode):
                by_workflow = registries.setdefault(node.agent.name, {})
                by_workflow.setdefault(workflow.name, workflow.registry)  # the current version
                by_workflow[f"{workflow.name}@{workflow.version}"] = workflow.registry
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
        entity = make_agent_entity(agent, registries.get(name))
        names.append(worker.add_entity(entity, name=agent_entity_name(name)))
    names.append(worker.add_entity(event_log_entity, name=EVENT_LOG_ENTITY))
    if all_agents:
        names.append(worker.add_orchestrator(agent_turn_orchestrator))
    return names


def work_item_filters(versions: WorkflowVersions, registered: Iterable[str]) -> Any:
    """durabletask work-item filters for a worker that registered `registered`: each
    workflow's orchestrator only for the versions this worker has, everything else by name.

    A backend that honours them (the Durable Task Scheduler, the SQLite sidecar) then hands a
    run only to a worker that can replay it, which a rolling deploy needs.
    """
    from durabletask import worker as dt

    orchestrators = {orchestrator_name(name): name for name in versions.current}
    filters = dt.WorkItemFilters()
    for registered_name in registered:
        workflow_name = orchestrators.get(registered_name)
        if workflow_name is not None:
            known = sorted(versions.by_name[workflow_name])
            filters.orchestrations.append(dt.OrchestrationWorkItemFilter(registered_name, known))
        elif registered_name == AGENT_TURN_ORCHESTRATOR:
            filters.orchestrations.append(dt.OrchestrationWorkItemFilter(registered_name))
        elif registered_name.startswith(orchestrator_name("")):
            filters.activities.append(dt.ActivityWorkItemFilter(registered_name))
        else:
            filters.entities.append(dt.EntityWorkItemFilter(registered_name))
    return filters
