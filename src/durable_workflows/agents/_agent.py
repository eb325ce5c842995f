"""`Agent`: an LLM with a name and instructions whose turns run on a stored thread."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any, cast

from pydantic import BaseModel, ValidationError

from ..errors import WorkflowDefinitionError
from ..model.agent_protocol import AgentInput, AgentResponse, AgentThreadState, ChatMessage
from ._chat_client import ChatClient, ChatCompletion
from ._errors import (
    AgentHistoryLimitError,
    AgentInputError,
    AgentModelCallError,
    AgentResponseError,
    ChatClientError,
)
from ._history import (
    DEFAULT_MAX_HISTORY_BYTES,
    HistoryReducer,
    history_bytes,
    keep_last_messages,
)
from ._names import check_agent_name

DEFAULT_SESSION_TTL = timedelta(days=14)
"""Idle threads are deleted after this long unless the agent sets `session_ttl`."""


class Agent:
    """A chat agent; implements `WorkflowAgent`, so it can be hosted durably or be a node.

    Args:
        name: Stable name (``^[A-Za-z][A-Za-z0-9_-]{0,62}$``); names its entity and threads.
        instructions: The system prompt, sent before the history on every turn (not stored
            in the thread, so changing it applies to existing threads).
        chat_client: The model, e.g. `OpenAIChatClient()`; it is only used when a turn runs.
        response_format: A pydantic model for structured output; `response.value` is parsed
            and validated into it.
        session_ttl: Idle time after which the host deletes a thread; ``None`` keeps threads.
        max_history_bytes: Largest serialized thread allowed (``None``: no limit).
        history_reducer: Called to shorten a thread that would exceed `max_history_bytes`,
            e.g. `keep_last_messages(40)`; without one such a turn raises
            `AgentHistoryLimitError`.
    """

    def __init__(
        self,
        name: str,
        instructions: str,
        chat_client: ChatClient,
        response_format: type[BaseModel] | None = None,
        *,
        session_ttl: timedelta | None = DEFAULT_SESSION_TTL,
        max_history_bytes: int | None = DEFAULT_MAX_HISTORY_BYTES,
        history_reducer: HistoryReducer | None = None,
    ) -> None:
        self._name = check_agent_name(name)
        if not isinstance(instructions, str):
            msg = f"Agent {name!r}: instructions must be a string"
            raise WorkflowDefinitionError(msg)
        if not isinstance(chat_client, ChatClient):
            msg = f"Agent {name!r}: chat_client must be a ChatClient (with a `complete` method)"
            raise WorkflowDefinitionError(msg)
        self._check_response_format(response_format)
        if session_ttl is not None and session_ttl <= timedelta(0):
            msg = f"Agent {name!r}: session_ttl must be positive or None (never expire)"
            raise WorkflowDefinitionError(msg)
        if max_history_bytes is not None and max_history_bytes <= 0:
            msg = f"Agent {name!r}: max_history_bytes must be positive or None (no limit)"
            raise WorkflowDefinitionError(msg)
        self.instructions = instructions
        self.chat_client = chat_client
        self.response_format = response_format
        self.session_ttl = session_ttl
        self.max_history_bytes = max_history_bytes
        self.history_reducer = history_reducer
        self._response_type: type[AgentResponse[Any]] = (
            cast(Any, AgentResponse)[response_format] if response_format else AgentResponse[Any]
        )

    def _check_response_format(self, response_format: object) -> None:
        if response_format is None:
            return
        if not (isinstance(response_format, type) and issubclass(response_format, BaseModel)):
            msg = f"Agent {self._name!r}: response_format must be a pydantic model class"
            raise WorkflowDefinitionError(msg)
        if response_format.model_json_schema().get("type") != "object":
            msg = (
                f"Agent {self._name!r}: response_format {response_format.__name__} must be an "
                "object model (structured output needs a JSON object); wrap the value in a field"
            )
            raise WorkflowDefinitionError(msg)

    @property
    def name(self) -> str:
        """The agent's name."""
        return self._name

    @property
    def response_type(self) -> type[AgentResponse[Any]]:
        """``AgentResponse[response_format]``, or ``AgentResponse[Any]`` without a format."""
        return self._response_type

    def expires_at(self, thread: AgentThreadState) -> float | None:
        """Unix time at which `thread` expires (``None``: never, or never used)."""
        if self.session_ttl is None or not thread.last_used:
            return None
        return thread.last_used + self.session_ttl.total_seconds()

    def compact(self, thread: AgentThreadState, *, keep_last: int) -> AgentThreadState:
        """A copy of `thread` that keeps its last `keep_last` messages (from a user turn)."""
        messages = keep_last_messages(keep_last)(list(thread.messages))
        return AgentThreadState(messages=messages, last_used=thread.last_used)

    def run_turn(
        self, thread: AgentThreadState, message: AgentInput, *, thread_id: str
    ) -> tuple[AgentThreadState, AgentResponse[Any]]:
        """Run one turn: append `message`, call the model, append its reply.

        Pure with respect to `thread`: on any error nothing is returned, so the caller keeps
        the stored thread as it was.
        """
        history = self._fit([*thread.messages, *self._to_messages(message)], thread_id)
        prompt = (
            [ChatMessage(role="system", content=self.instructions)] if self.instructions else []
        )
        try:
            completion = self.chat_client.complete(
                [*prompt, *history], response_format=self.response_format
            )
        except ChatClientError as exc:
            msg = f"Agent {self._name!r} (thread {thread_id!r}): {exc}. The thread is unchanged."
            raise AgentModelCallError(
                self._name, msg, status_code=exc.status_code, retryable=exc.retryable
            ) from exc
        value = self._parse(completion, thread_id)
        reply = ChatMessage(role="assistant", content=completion.text)
        new_thread = AgentThreadState(
            messages=self._fit([*history, reply], thread_id), last_used=time.time()
        )
        response = self._response_type(
            text=completion.text,
            value=value,
            thread_id=thread_id,
            agent_name=self._name,
            usage=completion.usage,
        )
        return new_thread, response

    def _to_messages(self, message: object) -> list[ChatMessage]:
        if isinstance(message, str):
            return [ChatMessage(role="user", content=message)]
        if isinstance(message, AgentResponse):
            return [ChatMessage(role="user", content=message.text)]
        if isinstance(message, list) and message:
            try:
                messages = [ChatMessage.model_validate(item) for item in message]
            except ValidationError as exc:
                msg = f"Agent {self._name!r}: invalid chat message in the input list: {exc}"
                raise AgentInputError(self._name, msg) from exc
            if all(m.role != "tool" for m in messages):
                return messages
            msg = f"Agent {self._name!r}: tool messages are not supported (no tool calling)"
            raise AgentInputError(self._name, msg)
        msg = (
            f"Agent {self._name!r} cannot take a {type(message).__name__} as its message: "
            "send a str, a non-empty list of ChatMessage, or a previous AgentResponse"
        )
        raise AgentInputError(self._name, msg)

    def _fit(self, messages: list[ChatMessage], thread_id: str) -> list[ChatMessage]:
        """`messages`, reduced if they exceed `max_history_bytes`; raise if they still do."""
        limit = self.max_history_bytes
        if limit is None or history_bytes(messages) <= limit:
            return messages
        if self.history_reducer is not None:
            reduced = self.history_reducer(list(messages))
            if not reduced or reduced[-1] != messages[-1]:
                msg = f"Agent {self._name!r}: history_reducer must keep the last message"
                raise AgentHistoryLimitError(
                    self._name, msg, size=history_bytes(messages), limit=limit
                )
            messages = reduced
        size = history_bytes(messages)
        if size <= limit:
            return messages
        msg = (
            f"Agent {self._name!r}: thread {thread_id!r} would hold {size} bytes of history, "
            f"more than max_history_bytes={limit} (a thread is durable entity state, which "
            "must stay well under the backend's 4 MiB message limit). The thread is unchanged. "
            "Compact it with agent.compact(thread, keep_last=N), pass "
            "history_reducer=keep_last_messages(N) to Agent(...), or start a new thread."
        )
        raise AgentHistoryLimitError(self._name, msg, size=size, limit=limit)

    def _parse(self, completion: ChatCompletion, thread_id: str) -> BaseModel | None:
        where = f"Agent {self._name!r} (thread {thread_id!r})"
        if completion.refusal:
            msg = f"{where}: the model refused: {completion.refusal}. The thread is unchanged."
            raise AgentResponseError(self._name, msg)
        if self.response_format is None:
            return None
        text = _strip_code_fence(completion.text)
        try:
            return self.response_format.model_validate_json(text)
        except ValidationError as exc:
            if any(error["type"] == "json_invalid" for error in exc.errors()):
                problem = "is not valid JSON"
            else:
                details = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}"
                    for e in exc.errors()[:5]
                )
                problem = f"does not match {self.response_format.__name__} ({details})"
            cut = (
                " It was cut off at the token limit (finish_reason='length')."
                if completion.finish_reason == "length"
                else ""
            )
            msg = (
                f"{where}: the model's reply {problem}.{cut} The thread is unchanged. "
                f"Reply: {json.dumps(text[:200])}"
            )
            raise AgentResponseError(self._name, msg) from exc

    def __repr__(self) -> str:
        return f"Agent(name={self._name!r})"


def _strip_code_fence(text: str) -> str:
    """Remove a Markdown code fence some OpenAI-compatible servers wrap around JSON."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```") and "\n" in stripped:
        return stripped[stripped.index("\n") + 1 : -3].strip()
    return text
