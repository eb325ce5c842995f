"""`DeterministicChatClient`: a stand-in model that answers without network or keys."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from ..model.agent_protocol import ChatMessage, Usage
from ._chat_client import ChatCompletion, DeltaCallback
from ._schema import example_from_schema

Reply = str | BaseModel | Mapping[str, Any] | ChatCompletion
"""A stand-in answer: text, a model / mapping sent as JSON (for structured output), or a whole
`ChatCompletion` (to ask for tool calls)."""
Responder = Callable[[list[ChatMessage], type[BaseModel] | None], Reply]
"""Computes the answer from the messages (system prompt first) and the requested format."""


class DeterministicChatClient:
    """A `ChatClient` that answers from `respond`, else from `rules`, else a default.

    `rules` are ``(regex, reply)`` pairs matched case-insensitively against the last user
    message; the first match answers. Without a match it answers `default`, or an example
    value of the response format, or echoes the message. Token usage counts words. Every
    call's messages are kept in `calls`.
    """

    def __init__(
        self,
        respond: Responder | None = None,
        *,
        rules: Sequence[tuple[str, Reply]] = (),
        default: Reply | None = None,
    ) -> None:
        self._respond = respond
        self._rules = [(re.compile(pattern, re.IGNORECASE), reply) for pattern, reply in rules]
        self._default = default
        self.calls: list[list[ChatMessage]] = []

    def complete(
        self,
        messages: list[ChatMessage],
        *,
        response_format: type[BaseModel] | None,
        tools: Sequence[dict[str, Any]] | None = None,
        on_delta: DeltaCallback | None = None,
    ) -> ChatCompletion:
        """Answer deterministically; the same messages always give the same reply. With
        `on_delta` the text is streamed word by word."""
        self.calls.append(list(messages))
        completion = self._completion(messages, response_format)
        if on_delta is not None:
            for word in re.findall(r"\s*\S+\s*|\s+", completion.text):
                on_delta(word)
        return completion

    def _completion(
        self, messages: list[ChatMessage], response_format: type[BaseModel] | None
    ) -> ChatCompletion:
        reply = self._reply(messages, response_format)
        if isinstance(reply, ChatCompletion):
            return reply
        if isinstance(reply, BaseModel):
            text = reply.model_dump_json()
        elif isinstance(reply, str):
            text = reply
        else:
            text = json.dumps(dict(reply))
        input_tokens = sum(len(m.content.split()) for m in messages)
        output_tokens = len(text.split())
        usage = Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
        )
        return ChatCompletion(text=text, usage=usage, finish_reason="stop")

    def _reply(self, messages: list[ChatMessage], response_format: type[BaseModel] | None) -> Reply:
        if self._respond is not None:
            return self._respond(messages, response_format)
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        for pattern, reply in self._rules:
            if pattern.search(last):
                return reply
        if self._default is not None:
            return self._default
        if response_format is not None:
            value: Mapping[str, Any] = example_from_schema(response_format.model_json_schema())
            return value
        return f"(deterministic reply) {last}"

    def __repr__(self) -> str:
        return f"DeterministicChatClient(rules={len(self._rules)})"
