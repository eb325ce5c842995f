"""The JSON bodies of the HTTP API (camelCase on the wire, as in the Agent Framework docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ..hosting.run_info import RunState
from ..model.agent_protocol import Role


class ApiModel(BaseModel):
    """Base of the API's bodies: camelCase names, snake_case also accepted on input."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ErrorInfo(ApiModel):
    type: str = Field(description="The error's class name, e.g. InvalidResponseError.")
    message: str
    details: list[dict[str, Any]] | None = Field(
        default=None, description="pydantic's field errors, when a value did not validate."
    )


class ErrorBody(ApiModel):
    error: ErrorInfo


# -- workflows --------------------------------------------------------------------------------


class PortInfo(ApiModel):
    id: str
    request_schema: dict[str, Any]
    response_schema: dict[str, Any]


class WorkflowInfo(ApiModel):
    name: str
    description: str | None
    start: str = Field(description="The start node's id.")
    input_schema: dict[str, Any] = Field(description="JSON schema of the workflow's input.")
    ports: list[PortInfo]
    graph_hash: str
    url: str


class GraphNode(ApiModel):
    id: str
    kind: str = Field(
        description="executor, agent or port; start, fork, switch or barrier for helper nodes "
        "(their ids contain ':')."
    )
    title: str
    details: list[str]
    is_start: bool


class GraphEdge(ApiModel):
    source: str
    target: str
    kind: str = Field(description="plain, conditional, case, default, fan-out, fan-in, start.")
    label: str
    back: bool = Field(description="The edge closes a cycle.")


class WorkflowDetail(WorkflowInfo):
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    mermaid: str
    svg_url: str


class WorkflowList(ApiModel):
    workflows: list[WorkflowInfo]


class RunAccepted(ApiModel):
    run_id: str
    status: RunState
    status_url: str
    respond_url: str
    events_url: str


class PendingRequest(ApiModel):
    request_id: str
    port_id: str
    request: Any
    response_type: str
    response_schema: dict[str, Any]


class RunError(ApiModel):
    type: str
    message: str
    executor_id: str | None = None


class RunStatusBody(RunAccepted):
    workflow: str
    version: str | None = Field(
        default=None, description="The workflow version the run is pinned to."
    )
    superstep: int
    last_sequence: int = Field(description="Sequence number of the run's latest event.")
    created_at: datetime | None
    updated_at: datetime | None
    pending_requests: list[PendingRequest]
    result: Any = None
    outputs: list[Any] = Field(default_factory=list)
    error: RunError | None = None


class RunSummaryBody(ApiModel):
    run_id: str
    workflow: str
    version: str | None = None
    status: RunState
    superstep: int
    pending_requests: int
    created_at: datetime
    updated_at: datetime
    status_url: str


class RunList(ApiModel):
    runs: list[RunSummaryBody]


class RespondBody(ApiModel):
    request_id: str
    response: Any = None


class RespondAccepted(ApiModel):
    run_id: str
    request_id: str
    status_url: str


class CancelBody(ApiModel):
    reason: str = "cancelled over HTTP"


# -- agents -----------------------------------------------------------------------------------


class AgentInfo(ApiModel):
    name: str
    response_schema: dict[str, Any] | None = Field(
        description="JSON schema of the structured response, or null for text replies."
    )
    url: str


class AgentList(ApiModel):
    agents: list[AgentInfo]


class UsageBody(ApiModel):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class AgentReply(ApiModel):
    thread_id: str
    response: Any = Field(description="The reply's text, or its structured value as JSON.")
    usage: UsageBody


class AgentAccepted(ApiModel):
    thread_id: str
    status: str = "accepted"


class ToolCallBody(ApiModel):
    id: str = Field(
        description="The call's id; the tool message answering it has it as toolCallId."
    )
    name: str = Field(description="The tool's name.")
    arguments: str = Field(description="The arguments, as the JSON text the model wrote.")


class Message(ApiModel):
    role: Role = Field(description="system, user, assistant, or tool (a tool's result).")
    content: str
    tool_calls: list[ToolCallBody] | None = Field(
        default=None, description="Assistant messages that ask for tools: the calls, in order."
    )
    tool_call_id: str | None = Field(
        default=None, description="Tool messages: the id of the call this result answers."
    )
    name: str | None = Field(default=None, description="Tool messages: the tool's name.")


class ThreadHistory(ApiModel):
    thread_id: str
    messages: list[Message] = Field(
        description="Oldest first; the fields a message does not use are left out."
    )


class AgentStreamStart(ApiModel):
    stream_id: str
    thread_id: str
    stream_url: str = Field(description="GET it (with ?cursor= or Last-Event-ID) to resume.")


class AgentStreamDelta(ApiModel):
    cursor: int = Field(description="The item's position (1, 2, ...), also its SSE id.")
    text: str = Field(description="The next piece of the reply's text.")


class AgentStreamRestart(ApiModel):
    cursor: int = Field(description="The item's position, also its SSE id.")


class AgentStreamDone(AgentReply):
    stream_id: str


class ThreadInfo(ApiModel):
    thread_id: str
    last_modified: datetime


class ThreadList(ApiModel):
    threads: list[ThreadInfo]


class Health(ApiModel):
    status: str
    workflows: int
    agents: int
