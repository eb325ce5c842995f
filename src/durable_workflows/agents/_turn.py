"""One agent turn as steps: the model asks for tools (`ToolRequest`) until it answers (`TurnDone`).

`Agent.run_turn` drives the steps in-process; the durable host drives the same steps with the
model call in the thread's entity and each tool call as an activity, so a recorded tool result is
never computed again. `TurnProgress` is what a turn holds between steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from ..agent_protocol import AgentResponse, AgentThreadState, ChatMessage, ToolCall, Usage


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
    """The model asked for `calls`; run them and add their results to `turn`."""

    turn: TurnProgress
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class TurnDone:
    """The model answered: store `thread` (the old one plus the whole turn) and return `response`."""

    thread: AgentThreadState
    response: AgentResponse[Any]


def add_usage(a: Usage, b: Usage) -> Usage:
    """The sum of two usages."""
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
    )
