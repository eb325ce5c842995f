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
from ..runtime.wire import decode_message, encode_result
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
from .telemetry import step_span
from .user_orchestrations import check_unique, wrap_orchestration
from .versions import WorkflowVersions


def make_orchestrator(
    workflows: WorkflowVersions | Workflow,
    name: str | None = None,
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    shared_by_reference: bool = False,
) -> Callable[[Any, Any], Any]:
    """The orchestrator of workflow `name`: replays each run on the version it started with.

    Given one `Workflow`, it runs every run on that definition (replay before deploy).
    `shared_by_reference` lets it pass large shared state by reference: only when the
    workflow's activities get a `SharedStateReader`.
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
        driver = OrchestratorDriver(
            workflow,
            seam,
            payload,
            max_payload_bytes=max_payload_bytes,
            shared_by_reference=shared_by_reference,
        )
        return (yield from driver.run())

    orchestrator.__name__ = orchestrator_name(name)
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
    attributes = {
        "workflow.name": workflow.name,
        "workflow.version": workflow.version,
        "workflow.node_id": node_id,
    }

    def activity(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
        run = {"workflow.run_id": payload["run_id"], "workflow.superstep": payload["superstep"]}
        with step_span("executor", node_id, payload, {**attributes, **run}):
            return run_executor(payload)

    def run_executor(payload: dict[str, Any]) -> dict[str, Any]:
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
            decode_message(workflow, node_id, payload["message"]),
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


def _check_format(workflow: Workflow, node: AgentNode) -> None:
    """A node's per-call response format must be importable by workers (checked at start)."""
    try:
        format_ref(node.response_format)
    except ResponseFormatError as exc:
        msg = f"workflow {workflow.name!r}, agent node {node.id!r}: {exc}"
        raise WorkflowDefinitionError(msg) from exc


def register(
    worker: Any,
    workflows: Iterable[Workflow] | WorkflowVersions,
    agents: Iterable[WorkflowAgent] = (),
    *,
    orchestrations: Iterable[Callable[..., Any]] = (),
    activities: Iterable[Callable[..., Any]] = (),
    default_session_ttl: timedelta | None = DEFAULT_SESSION_TTL,
    stream_signaller: StreamSignaller | None = None,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    shared_state: SharedStateReader | None = None,
) -> list[str]:
    """Register everything the workflows (every version) and agents need with a durabletask
    worker, and the hand-written `orchestrations` and `activities` (by function name). Agents whose
    `session_ttl` is ``"default"`` use `default_session_ttl`; streamed turns publish their
    deltas through `stream_signaller`. Payloads over `max_payload_bytes` fail their run with an
    error naming them. With a `shared_state` reader (a client of the same backend), large
    shared state is stored once per change and read by reference instead of being copied
    into every activity input."""
    versions = workflows if isinstance(workflows, WorkflowVersions) else WorkflowVersions(workflows)
    names: list[str] = []
    all_agents: dict[str, WorkflowAgent] = {}
    registries: dict[str, dict[str, TypeRegistry]] = {}  # agent -> workflow -> its types
    for agent in agents:
        all_agents[agent.name] = agent
    for name in versions.current:
        orchestrator = make_orchestrator(
            versions,
            name,
            max_payload_bytes=max_payload_bytes,
            shared_by_reference=shared_state is not None,
        )
        names.append(worker.add_orchestrator(orchestrator))
    for workflow in versions:
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


def work_item_filters(versions: WorkflowVersions, worker: Any) -> Any:
    """durabletask work-item filters for everything `worker` registered, each workflow's
    orchestrator only for the versions it has.

    A backend that honours them (the Durable Task Scheduler, the SQLite sidecar) then hands a
    run only to a worker that can replay it, which a rolling deploy needs.
    """
    from durabletask import worker as dt

    everything = dt.WorkItemFilters._from_registry(worker._registry)
    known = {orchestrator_name(name): sorted(by) for name, by in versions.by_name.items()}
    return dt.WorkItemFilters(
        orchestrations=[
            dt.OrchestrationWorkItemFilter(f.name, list(known.get(f.name, [])))
            for f in everything.orchestrations
        ],
        activities=everything.activities,
        entities=everything.entities,
    )
