"""The `ChatClient` protocol: what an `Agent` needs from a chat model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from ..model.agent_protocol import ChatMessage, Usage


@dataclass(frozen=True)
class ChatCompletion:
    """One model reply: its text (JSON text for structured output) and token usage."""

    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    """Why the model stopped (``"length"`` means the reply was cut off)."""
    refusal: str | None = None
    """The model's refusal message, if it refused to answer in the requested format."""


@runtime_checkable
class ChatClient(Protocol):
    """A synchronous chat model (durable entity operations are synchronous).

    Implementations raise `ChatClientError` when the call fails after their own retries and
    `ChatClientConfigurationError` when they lack configuration.
    """

    def complete(
        self, messages: list[ChatMessage], *, response_format: type[BaseModel] | None
    ) -> ChatCompletion:
        """Answer `messages`; with `response_format`, the text is JSON for that model."""
        ...
