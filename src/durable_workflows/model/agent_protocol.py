"""What the workflow layer needs from an agent: message types and the `WorkflowAgent` protocol.

The concrete `Agent` (OpenAI / Azure OpenAI) lives in `durable_workflows.agents`; this module has
no dependency on any model SDK so that graphs, validation and the engine can treat agents as nodes.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, Field

ValueT = TypeVar("ValueT")

Role = Literal["system", "user", "assistant", "tool"]


class ChatMessage(BaseModel):
    """One message of a conversation."""

    role: Role
    content: str


class Usage(BaseModel):
    """Token usage of one or more model calls."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class AgentResponse(BaseModel, Generic[ValueT]):
    """The result of one agent turn: its text, the parsed structured value, and the thread id."""

    text: str
    value: ValueT | None = None
    thread_id: str = ""
    agent_name: str = ""
    usage: Usage = Field(default_factory=Usage)


class AgentThreadState(BaseModel):
    """The durable state of one conversation thread (what an agent entity stores)."""

    messages: list[ChatMessage] = Field(default_factory=list)
    last_used: float = 0.0
    """Unix time of the last turn (drives the session time-to-live)."""


AgentInput = str | list[ChatMessage] | AgentResponse[Any]
"""What an agent node accepts as a message in a workflow."""


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
class ExpiringAgent(Protocol):
    """An agent whose idle threads expire (its entity deletes them after `expires_at`)."""

    def expires_at(self, thread: AgentThreadState) -> float | None:
        """Unix time at which `thread` expires, or None for never."""
        ...
