"""Library objects as API bodies: JSON schemas of types, workflows, run statuses and events,
agent replies and thread messages."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from typing import Any, Union

from pydantic.alias_generators import to_camel

from ..graph.workflow import Workflow
from ..hosting.run_info import RunSummary, parse_failure
from ..model.agent_protocol import AgentResponse, ChatMessage
from ..rendering.model import build_model
from ..runtime.events import WaitingForInputEvent, WorkflowEvent
from ..values.serialization import adapter, to_json
from ..values.typing_utils import is_any, short_name
from .models import (
    AgentReply,
    GraphEdge,
    GraphNode,
    Message,
    PendingRequest,
    PortInfo,
    RunError,
    RunSummaryBody,
    ToolCallBody,
    UsageBody,
    WorkflowDetail,
    WorkflowInfo,
)


def types_schema(types: tuple[Any, ...]) -> dict[str, Any]:
    """The JSON schema of a value of one of `types` (``{}`` accepts anything)."""
    if not types or any(is_any(t) for t in types):
        return {}
    tp = types[0] if len(types) == 1 else Union[types]  # noqa: UP007 (a runtime union of types)
    return _schema(tp)


@functools.lru_cache(maxsize=256)
def _schema(tp: Any) -> dict[str, Any]:
    try:
        schema: dict[str, Any] = adapter(tp).json_schema()
    except Exception:  # a type pydantic cannot describe; say its name instead
        return {"description": short_name(tp)}
    return schema


def workflow_info(workflow: Workflow, base: str) -> WorkflowInfo:
    """A workflow's name, description, input schema and ports."""
    return WorkflowInfo(
        name=workflow.name,
        description=workflow.description,
        start=workflow.start_id,
        input_schema=types_schema(workflow.input_types),
        ports=[
            PortInfo(
                id=port.id,
                request_schema=types_schema((port.request_type,)),
                response_schema=types_schema((port.response_type,)),
            )
            for port in workflow.ports.values()
        ],
        graph_hash=workflow.graph_hash,
        url=f"{base}/api/workflows/{workflow.name}",
    )


def workflow_detail(workflow: Workflow, base: str) -> WorkflowDetail:
    """`workflow_info` plus the graph: nodes and edges (as drawn), Mermaid text, SVG link."""
    model = build_model(workflow)
    return WorkflowDetail(
        **workflow_info(workflow, base).model_dump(),
        nodes=[
            GraphNode(
                id=n.id, kind=n.kind, title=n.title, details=list(n.details), is_start=n.is_start
            )
            for n in model.nodes
        ],
        edges=[
            GraphEdge(source=e.source, target=e.target, kind=e.kind, label=e.label, back=e.back)
            for e in model.edges
        ],
        mermaid=workflow.to_mermaid(),
        svg_url=f"{base}/api/workflows/{workflow.name}/graph.svg",
    )


def run_urls(base: str, workflow: str, run_id: str) -> dict[str, str]:
    """The status, respond and events URLs of a run."""
    root = f"{base}/api/workflows/{workflow}"
    return {
        "status_url": f"{root}/status/{run_id}",
        "respond_url": f"{root}/respond/{run_id}",
        "events_url": f"{root}/events/{run_id}",
    }


def pending_request(workflow: Workflow, request: WaitingForInputEvent) -> PendingRequest:
    """A waiting request with the JSON schema its response must match."""
    return PendingRequest(
        request_id=request.request_id,
        port_id=request.port_id,
        request=to_json(request.request),
        response_type=request.response_type,
        response_schema=types_schema((workflow.response_type(request.port_id),)),
    )


def run_error(message: str) -> RunError:
    """A failed run's error, split into type, message and failing executor."""
    failure = parse_failure(message)
    return RunError(type=failure.type, message=failure.message, executor_id=failure.executor_id)


def summary_body(summary: RunSummary, base: str) -> RunSummaryBody:
    """A run summary with its status URL."""
    return RunSummaryBody(
        run_id=summary.run_id,
        workflow=summary.workflow,
        version=summary.version,
        status=summary.status,
        superstep=summary.superstep,
        pending_requests=summary.pending_requests,
        created_at=summary.created_at,
        updated_at=summary.updated_at,
        status_url=run_urls(base, summary.workflow, summary.run_id)["status_url"],
    )


def event_json(event: WorkflowEvent, workflow: Workflow) -> dict[str, Any]:
    """An event as plain JSON: ``type``, ``sequence``, ``runId`` and its fields in camelCase
    (node ids as ``executorId`` / ``portId``, ``superstep``; values as plain JSON). A
    ``waiting_for_input`` event also carries the ``responseSchema`` of its port."""
    data: dict[str, Any] = {"type": event.type}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if f.name == "outputs":
            value = [to_json(v) for v in value]
        elif f.name in event.value_fields:
            value = to_json(value)
        data[to_camel(f.name)] = value
    if isinstance(event, WaitingForInputEvent):
        with contextlib.suppress(KeyError):  # (a sub-workflow's port by its path; none if
            # the graph changed)
            data["responseSchema"] = types_schema((workflow.response_type(event.port_id),))
    return data


def agent_reply(thread_id: str, response: AgentResponse[Any]) -> AgentReply:
    """A turn's reply: its text, or its structured value as JSON."""
    return AgentReply(
        thread_id=thread_id,
        response=response.text if response.value is None else to_json(response.value),
        usage=UsageBody(**response.usage.model_dump()),
    )


def thread_messages(messages: list[ChatMessage]) -> list[Message]:
    """A thread's messages with their tool calls, and tool results named after their tool."""
    tools = {call.id: call.name for m in messages for call in m.tool_calls}
    return [
        Message(
            role=m.role,
            content=m.content,
            tool_calls=[ToolCallBody(**c.model_dump()) for c in m.tool_calls] or None,
            tool_call_id=m.tool_call_id,
            name=tools.get(m.tool_call_id) if m.tool_call_id else None,
        )
        for m in messages
    ]
