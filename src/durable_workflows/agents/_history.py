"""History size limits and reducers for agent threads."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import WorkflowDefinitionError
from ..model.agent_protocol import AgentThreadState, ChatMessage

HistoryReducer = Callable[[list[ChatMessage]], list[ChatMessage]]
"""Shortens a thread's messages when it outgrows `max_history_bytes`; keeps the last message."""

DEFAULT_MAX_HISTORY_BYTES = 1024 * 1024
"""1 MiB: a thread's JSON travels whole in each entity work item, and durabletask's gRPC
messages are capped at 4 MiB together with the operation's input, result and metadata."""


def history_bytes(messages: list[ChatMessage]) -> int:
    """The size of a thread holding `messages`, serialized as the entity stores it (UTF-8 JSON)."""
    return len(AgentThreadState(messages=messages).model_dump_json().encode())


def keep_last_messages(count: int) -> HistoryReducer:
    """A reducer that keeps the last `count` messages, starting at a user message if it can."""
    if count < 1:
        msg = f"keep_last_messages needs a count of at least 1, got {count}"
        raise WorkflowDefinitionError(msg)

    def reduce(messages: list[ChatMessage]) -> list[ChatMessage]:
        kept = messages[-count:]
        start = next((i for i, m in enumerate(kept) if m.role == "user"), 0)
        return kept[start:]

    return reduce
