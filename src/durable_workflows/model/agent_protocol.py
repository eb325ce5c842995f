"""What the workflow layer needs from an agent: message types and the `WorkflowAgent` protocol.

The concrete `Agent` (OpenAI / Azure OpenAI) lives in `durable_workflows.agents`; this module has
no dependency on any model SDK so that graphs, validation and the engine can treat agents as nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, Literal, Protocol, TypeVar, cast, runtime_checkable

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

ValueT = TypeVar("ValueT")

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """A tool call the model asked for: the tool's name and its arguments as JSON text."""

    id: str
    name: str
    arguments: str = "{}"


class ChatMessage(BaseModel):
    """One message of a conversation.

    An ``assistant`` message may carry `tool_calls` (its `content` is then often empty); a
    ``tool`` message answers the call `tool_call_id` with the tool's result in `content`.
    """

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Plain messages serialize as ``{"role", "content"}`` (threads stay small)."""
        data: dict[str, Any] = handler(self)
        if not data.get("tool_calls"):
            data.pop("tool_calls", None)
        if data.get("tool_call_id") is None:
            data.pop("tool_call_id", None)
        return data


class Usage(BaseModel):
    """Token usage of one or more model calls (``a + b`` adds them up)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class AgentResponse(BaseModel, Generic[ValueT]):
    """The result of one agent turn: its text, the parsed structured value, and the thread id."""

    text: str
    value: ValueT | None = None
    thread_id: str = ""
    agent_name: str = ""
    usage: Usage = Field(default_factory=Usage)


def response_type_for(response_format: type[BaseModel] | None) -> type[AgentResponse[Any]]:
    """``AgentResponse[response_format]``, or ``AgentResponse[Any]`` without a format."""
    if response_format is None:
        return AgentResponse[Any]
    response_type: type[AgentResponse[Any]] = cast(Any, AgentResponse)[response_format]
    return response_type


class AgentThreadState(BaseModel):
    """The durable state of one conversation thread (what an agent entity stores)."""

    messages: list[ChatMessage] = Field(default_factory=list)
    last_used: float = 0.0
    """Unix time of the last turn (drives the session time-to-live)."""


AgentInput = str | list[ChatMessage] | AgentResponse[Any]
"""What an agent node accepts as a message in a workflow."""


class ToolResult(BaseModel):
    """The outcome of one tool call: the text sent back to the model, and whether it failed."""

    call_id: str
    name: str
    content: str
    error: bool = False


class TurnProgress(BaseModel):
    """A turn in progress: its messages so far (the input, then tool calls and results)."""

    turn_id: str = ""
    messages: list[ChatMessage] = Field(default_factory=list)
    rounds: int = 0
    """Model replies in this turn that asked for tools."""
    usage: Usage = Field(default_factory=Usage)
    """Tokens of this turn's model calls so far."""


@dataclass(frozen=True)
class ToolRequest:
    """The model asked for `calls`: run them and add their results to `turn`."""

    turn: TurnProgress
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class TurnDone:
    """The model answered: store `thread` (the old one plus the whole turn), return `response`."""

    thread: AgentThreadState
    response: AgentResponse[Any]


@runtime_checkable
class WorkflowAgent(Protocol):
    """An agent that can be a workflow node. `durable_workflows.agents.Agent` implements it.

    A turn is synchronous and pure with respect to the thread: it receives the stored thread,
    returns the new thread and the response; the caller (an entity or the in-process runner)
    stores the thread.
    """

    @property
    def name(self) -> str:
        """The agent's stable name (also its node id in a workflow)."""
        ...

    @property
    def response_type(self) -> type[AgentResponse[Any]]:
        """The `AgentResponse[...]` type this agent produces (its node output type)."""
        ...

    def run_turn(
        self, thread: AgentThreadState, message: AgentInput, *, thread_id: str
    ) -> tuple[AgentThreadState, AgentResponse[Any]]:
        """Run one turn of the conversation and return the updated thread and the response."""
        ...


@runtime_checkable
class ToolUsingAgent(Protocol):
    """An agent whose turn is steps: the model asks for tools until it answers.

    The durable host runs `model_step` in the thread's entity and each `call_tool` as an
    activity, so a recorded tool result is never computed again; `Agent.run_turn` runs the
    same steps in-process.
    """

    @property
    def has_tools(self) -> bool:
        """True when the model may call tools (otherwise one `run_turn` is the whole turn)."""
        ...

    def begin_turn(
        self, thread: AgentThreadState, message: AgentInput, *, thread_id: str, turn_id: str = ""
    ) -> TurnProgress:
        """Start a turn with the caller's message."""
        ...

    def model_step(
        self,
        thread: AgentThreadState,
        turn: TurnProgress,
        *,
        thread_id: str,
        response_format: type[BaseModel] | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> ToolRequest | TurnDone:
        """Call the model once (streaming its text to `on_delta`, if given)."""
        ...

    def call_tool(self, call: ToolCall) -> ToolResult:
        """Run one tool call; its failure is a result, not a raise."""
        ...

    def add_tool_results(
        self, turn: TurnProgress, results: list[ToolResult], *, thread_id: str
    ) -> TurnProgress:
        """`turn` with the results of its last tool calls."""
        ...


def uses_tools(agent: object) -> bool:
    """True for a `ToolUsingAgent` that has tools."""
    return isinstance(agent, ToolUsingAgent) and agent.has_tools


DEFAULT_SESSION_TTL = timedelta(days=14)
"""How long an idle thread lives unless the host or the agent says otherwise (the Agent
Framework's default)."""


@runtime_checkable
class ExpiringAgent(Protocol):
    """An agent whose idle threads expire (its entity deletes them after `expires_at`)."""

    def expires_at(
        self, thread: AgentThreadState, *, default_ttl: timedelta | None = DEFAULT_SESSION_TTL
    ) -> float | None:
        """Unix time at which `thread` expires, or None for never; `default_ttl` is the
        host's, for agents that do not set their own."""
        ...
