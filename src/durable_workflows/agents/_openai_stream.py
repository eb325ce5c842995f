"""Assembling a streamed chat completion (``stream=True``) while passing its text on as it comes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..model.agent_protocol import ToolCall, Usage
from ._chat_client import ChatCompletion, DeltaCallback


def completion_from_chunks(chunks: Iterable[Any], on_delta: DeltaCallback) -> ChatCompletion:
    """The completion that `chunks` (``ChatCompletionChunk``s) spell out; text deltas go to
    `on_delta` in order. Tool-call fragments are joined per call index."""
    text: list[str] = []
    refusal: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    finish_reason: str | None = None
    usage = Usage()
    for chunk in chunks:
        if chunk.usage is not None:
            usage = Usage(
                input_tokens=chunk.usage.prompt_tokens,
                output_tokens=chunk.usage.completion_tokens,
                total_tokens=chunk.usage.total_tokens,
            )
        for choice in chunk.choices[:1]:
            delta = choice.delta
            if delta.content:
                text.append(delta.content)
                on_delta(delta.content)
            if getattr(delta, "refusal", None):
                refusal.append(delta.refusal)
            for fragment in delta.tool_calls or ():
                call = calls.setdefault(fragment.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = fragment.id or call["id"]
                if fragment.function is not None:
                    call["name"] += fragment.function.name or ""
                    call["arguments"] += fragment.function.arguments or ""
            finish_reason = choice.finish_reason or finish_reason
    return ChatCompletion(
        text="".join(text),
        usage=usage,
        finish_reason=finish_reason,
        refusal="".join(refusal) or None,
        tool_calls=tuple(
            ToolCall(id=c["id"], name=c["name"], arguments=c["arguments"] or "{}")
            for _, c in sorted(calls.items())
        ),
    )
