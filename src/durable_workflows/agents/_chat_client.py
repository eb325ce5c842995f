"""The `ChatClient` protocol: what an `Agent` needs from a chat model."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from ..model.agent_protocol import ChatMessage, ToolCall, Usage

DeltaCallback = Callable[[str], None]
"""Receives each piece of reply text as the model produces it (streaming)."""


@dataclass(frozen=True)
class ChatCompletion:
    """One model reply: its text (JSON text for structured output) and token usage."""

    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    """Why the model stopped (``"length"`` means the reply was cut off)."""
    refusal: str | None = None
    """The model's refusal message, if it refused to answer in the requested format."""
    tool_calls: tuple[ToolCall, ...] = ()
    """The tools the model asks to call (then `text` is usually empty)."""


@runtime_checkable
class ChatClient(Protocol):
    """A synchronous chat model (durable entity operations are synchronous).

    Implementations raise `ChatClientError` when the call fails after their own retries and
    `ChatClientConfigurationError` when they lack configuration. `tools` (chat-completions
    ``tools`` entries) is passed only to agents that have tools, and `on_delta` only to
    stream a reply: a client that has no `on_delta` parameter is called without it, and its
    whole text is then one delta.
    """

    def complete(
        self,
        messages: list[ChatMessage],
        *,
        response_format: type[BaseModel] | None,
        tools: Sequence[dict[str, Any]] | None = None,
    ) -> ChatCompletion:
        """Answer `messages`; with `response_format`, the text is JSON for that model."""
        ...


def streams(client: ChatClient) -> bool:
    """True if `client.complete` takes `on_delta` (it can stream a reply)."""
    try:
        return "on_delta" in inspect.signature(client.complete).parameters
    except (TypeError, ValueError):
        return False
