"""`Agent`: an LLM with a name and instructions whose turns run on a stored thread."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from ..errors import WorkflowDefinitionError
from ..model.agent_protocol import (
    DEFAULT_SESSION_TTL,
    AgentInput,
    AgentResponse,
    AgentThreadState,
    ChatMessage,
    ToolCall,
    ToolRequest,
    ToolResult,
    TurnDone,
    TurnProgress,
    response_type_for,
)
from ..values.typing_utils import a_type
from ._chat_client import ChatClient, ChatCompletion, DeltaCallback, streams
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
from ._tool_loop import ToolBox, ToolErrors
from ._tools import Tool, as_tools

DEFAULT_MAX_TOOL_ROUNDS = 8

UseHostDefault = Literal["default"]
"""``session_ttl="default"``: the host's `default_session_ttl` (14 days unless set)."""


class Agent:
    """A chat agent; implements `WorkflowAgent`, so it can be hosted durably or be a node.

    Args:
        name: Stable name (``^[A-Za-z][A-Za-z0-9_-]{0,62}$``); names its entity and threads.
        instructions: The system prompt, sent before the history on every turn (not stored
            in the thread, so changing it applies to existing threads).
        chat_client: The model, e.g. `OpenAIChatClient()`; it is only used when a turn runs.
        response_format: A pydantic model for structured output; `response.value` is parsed
            and validated into it.
        session_ttl: Idle time after which the host deletes a thread; ``None`` keeps threads;
            ``"default"`` uses the host's `default_session_ttl` (`DEFAULT_SESSION_TTL`).
        max_history_bytes: Largest serialized thread allowed (``None``: no limit).
        history_reducer: Called to shorten a thread that would exceed `max_history_bytes`,
            e.g. `keep_last_messages(40)`; without one such a turn raises
            `AgentHistoryLimitError`.
        tools: Functions (or `Tool`s from `@tool`) the model may call; their JSON schemas come
            from their signatures.
        max_tool_rounds: Most model replies asking for tools in one turn; one more fails the
            turn with `AgentToolRoundsError`.
        tool_errors: ``"return"`` sends a failing tool's error to the model as its result;
            ``"raise"`` fails the turn with `AgentToolError`.
    """

    def __init__(
        self,
        name: str,
        instructions: str,
        chat_client: ChatClient,
        response_format: type[BaseModel] | None = None,
        *,
        session_ttl: timedelta | UseHostDefault | None = "default",
        max_history_bytes: int | None = DEFAULT_MAX_HISTORY_BYTES,
        history_reducer: HistoryReducer | None = None,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        max_tool_rounds: int = DEFAULT_MAX_TOOL_ROUNDS,
        tool_errors: ToolErrors = "return",
    ) -> None:
        self._name = check_agent_name(name)
        if not isinstance(instructions, str):
            msg = f"Agent {name!r}: instructions must be a string"
            raise WorkflowDefinitionError(msg)
        if not isinstance(chat_client, ChatClient):
            msg = f"Agent {name!r}: chat_client must be a ChatClient (with a `complete` method)"
            raise WorkflowDefinitionError(msg)
        self._check_response_format(response_format)
        if session_ttl != "default" and not (
            session_ttl is None
            or (isinstance(session_ttl, timedelta) and session_ttl > timedelta(0))
        ):
            msg = (
                f"Agent {name!r}: session_ttl must be a positive timedelta, None (never expire) "
                f"or 'default' (the host's), not {session_ttl!r}"
            )
            raise WorkflowDefinitionError(msg)
        if max_history_bytes is not None and max_history_bytes <= 0:
            msg = f"Agent {name!r}: max_history_bytes must be positive or None (no limit)"
            raise WorkflowDefinitionError(msg)
        if (
            isinstance(max_tool_rounds, bool)
            or not isinstance(max_tool_rounds, int)
            or max_tool_rounds < 1
        ):
            msg = f"Agent {name!r}: max_tool_rounds must be an int of at least 1, got {max_tool_rounds!r}"
            raise WorkflowDefinitionError(msg)
        if tool_errors not in ("return", "raise"):
            msg = f"Agent {name!r}: tool_errors must be 'return' or 'raise', not {tool_errors!r}"
            raise WorkflowDefinitionError(msg)
        self.instructions = instructions
        self.chat_client = chat_client
        self.response_format = response_format
        self.session_ttl = session_ttl
        self.max_history_bytes = max_history_bytes
        self.history_reducer = history_reducer
        self.tools = as_tools(self._name, tools)
        self.max_tool_rounds = max_tool_rounds
        self.tool_errors: ToolErrors = tool_errors
        self._toolbox = ToolBox(self._name, self.tools, max_tool_rounds, tool_errors)
        self._response_type = response_type_for(response_format)

    def _check_response_format(self, response_format: object, *, per_call: bool = False) -> None:
        if response_format is None:
            return
        problem = None
        if not (isinstance(response_format, type) and issubclass(response_format, BaseModel)):
            problem = f"response_format must be a pydantic model class, not {response_format!r}"
        elif response_format.model_json_schema().get("type") != "object":
            problem = (
                f"response_format {response_format.__name__} must be an object model "
                "(structured output needs a JSON object); wrap the value in a field"
            )
        if problem is None:
            return
        if per_call:
            raise AgentInputError(self._name, f"Agent {self._name!r}: {problem}")
        raise WorkflowDefinitionError(f"Agent {self._name!r}: {problem}")

    @property
    def name(self) -> str:
        """The agent's name."""
        return self._name

    @property
    def has_tools(self) -> bool:
        """True when the agent has tools (its durable turns then run tools as activities)."""
        return bool(self.tools)

    @property
    def response_type(self) -> type[AgentResponse[Any]]:
        """``AgentResponse[response_format]``, or ``AgentResponse[Any]`` without a format."""
        return self._response_type

    def expires_at(
        self, thread: AgentThreadState, *, default_ttl: timedelta | None = DEFAULT_SESSION_TTL
    ) -> float | None:
        """Unix time at which `thread` expires (``None``: never, or never used); `default_ttl`
        applies when the agent's `session_ttl` is ``"default"``."""
        ttl = default_ttl if self.session_ttl == "default" else self.session_ttl
        if ttl is None or not thread.last_used:
            return None
        return thread.last_used + ttl.total_seconds()

    def compact(self, thread: AgentThreadState, *, keep_last: int) -> AgentThreadState:
        """A copy of `thread` that keeps its last `keep_last` messages (from a user turn)."""
        messages = keep_last_messages(keep_last)(list(thread.messages))
        return AgentThreadState(messages=messages, last_used=thread.last_used)

    def run_turn(
        self,
        thread: AgentThreadState,
        message: AgentInput,
        *,
        thread_id: str,
        response_format: type[BaseModel] | None = None,
        on_delta: DeltaCallback | None = None,
    ) -> tuple[AgentThreadState, AgentResponse[Any]]:
        """Run one turn: append `message`, call the model (and the tools it asks for, in
        parallel, until it answers), append the exchange.

        `response_format` overrides the agent's for this turn; `on_delta` receives the reply
        text as the model streams it. Pure with respect to `thread`: on any error nothing is
        returned, so the caller keeps the stored thread as it was.
        """
        turn = self.begin_turn(thread, message, thread_id=thread_id)
        while True:
            step = self.model_step(
                thread,
                turn,
                thread_id=thread_id,
                response_format=response_format,
                on_delta=on_delta,
            )
            if isinstance(step, TurnDone):
                return step.thread, step.response
            results = self._toolbox.call_all(step.calls)
            turn = self.add_tool_results(step.turn, results, thread_id=thread_id)

    # -- the turn as steps: the durable host runs the model in the entity, tools as activities --

    def begin_turn(
        self, thread: AgentThreadState, message: AgentInput, *, thread_id: str, turn_id: str = ""
    ) -> TurnProgress:
        """Start a turn on `thread` with the caller's `message` (checked, and sized)."""
        messages = self._to_messages(message)
        self._fit([*thread.messages, *messages], thread_id)
        return TurnProgress(turn_id=turn_id, messages=messages)

    def model_step(
        self,
        thread: AgentThreadState,
        turn: TurnProgress,
        *,
        thread_id: str,
        response_format: type[BaseModel] | None = None,
        on_delta: DeltaCallback | None = None,
    ) -> ToolRequest | TurnDone:
        """Call the model once: it either asks for tools (`ToolRequest`) or answers (`TurnDone`).

        With `on_delta` the reply text is streamed to it as the model produces it."""
        self._check_response_format(response_format, per_call=True)
        fmt = response_format or self.response_format
        history = self._fit([*thread.messages, *turn.messages], thread_id)
        completion = self._complete(history, fmt, thread_id, on_delta)
        usage = turn.usage + completion.usage
        if completion.tool_calls:
            self._toolbox.check_round(turn, completion, thread_id)
            request = ChatMessage(
                role="assistant", content=completion.text, tool_calls=list(completion.tool_calls)
            )
            progress = TurnProgress(
                turn_id=turn.turn_id,
                messages=[*turn.messages, request],
                rounds=turn.rounds + 1,
                usage=usage,
            )
            return ToolRequest(turn=progress, calls=completion.tool_calls)
        value = self._parse(completion, thread_id, fmt)
        reply = ChatMessage(role="assistant", content=completion.text)
        new_thread = AgentThreadState(
            messages=self._fit([*thread.messages, *turn.messages, reply], thread_id),
            last_used=time.time(),
        )
        response = self.response_type_for(fmt)(
            text=completion.text,
            value=value,
            thread_id=thread_id,
            agent_name=self._name,
            usage=usage,
        )
        return TurnDone(thread=new_thread, response=response)

    def call_tool(self, call: ToolCall) -> ToolResult:
        """Run one tool call; failures (unknown tool, bad arguments, an exception) are results."""
        return self._toolbox.call(call)

    def add_tool_results(
        self, turn: TurnProgress, results: list[ToolResult], *, thread_id: str
    ) -> TurnProgress:
        """`turn` with the tool results appended (raises on a failure if ``tool_errors="raise"``)."""
        return self._toolbox.answer(turn, results, thread_id=thread_id)

    def response_type_for(
        self, response_format: type[BaseModel] | None
    ) -> type[AgentResponse[Any]]:
        """The response type of a turn with this per-call format (the agent's without one)."""
        if response_format is None:
            return self._response_type
        return response_type_for(response_format)

    def _complete(
        self,
        history: list[ChatMessage],
        fmt: type[BaseModel] | None,
        thread_id: str,
        on_delta: DeltaCallback | None,
    ) -> ChatCompletion:
        prompt = (
            [ChatMessage(role="system", content=self.instructions)] if self.instructions else []
        )
        options: dict[str, Any] = {}
        if self.tools:
            options["tools"] = self._toolbox.specs()
        streamed = on_delta is not None and streams(self.chat_client)
        if streamed:
            options["on_delta"] = on_delta
        try:
            completion = self.chat_client.complete(
                [*prompt, *history], response_format=fmt, **options
            )
        except ChatClientError as exc:
            msg = f"Agent {self._name!r} (thread {thread_id!r}): {exc}. The thread is unchanged."
            raise AgentModelCallError(
                self._name, msg, status_code=exc.status_code, retryable=exc.retryable
            ) from exc
        if on_delta is not None and not streamed and completion.text:
            on_delta(completion.text)  # a client that cannot stream: its reply is one delta
        return completion

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
            if all(m.role != "tool" and not m.tool_calls for m in messages):
                return messages
            msg = (
                f"Agent {self._name!r}: the input cannot hold tool calls or tool messages; "
                "tool calls come from the model and their results from the agent's tools"
            )
            raise AgentInputError(self._name, msg)
        msg = (
            f"Agent {self._name!r} cannot take {a_type(message)} as its message: "
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

    def _parse(
        self, completion: ChatCompletion, thread_id: str, fmt: type[BaseModel] | None
    ) -> BaseModel | None:
        where = f"Agent {self._name!r} (thread {thread_id!r})"
        if completion.refusal:
            msg = f"{where}: the model refused: {completion.refusal}. The thread is unchanged."
            raise AgentResponseError(self._name, msg)
        if fmt is None:
            return None
        text = _strip_code_fence(completion.text)
        try:
            return fmt.model_validate_json(text)
        except ValidationError as exc:
            if any(error["type"] == "json_invalid" for error in exc.errors()):
                problem = "is not valid JSON"
            else:
                details = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}"
                    for e in exc.errors()[:5]
                )
                problem = f"does not match {fmt.__name__} ({details})"
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
