"""Interop with Microsoft Agent Framework: an ``agent_framework.Agent`` used as our `Agent`.

``from_agent_framework(af_agent)`` keeps the agent's name, instructions, function tools and
(unless `chat_client` is given) its chat client, so the agent can be hosted, be a workflow
node or be called from an orchestration like any `Agent`: its threads are durable and each
tool call is a durable activity. Install ``durable_workflows[agent-framework]``
(``agent-framework-core``, stable releases); it is imported only when used.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from ..errors import WorkflowDefinitionError
from ..model.agent_protocol import ChatMessage, ToolCall, ToolResult, Usage
from ._agent import Agent
from ._chat_client import ChatClient, ChatCompletion, DeltaCallback
from ._errors import ChatClientError
from ._tools import Tool, result_text

T = TypeVar("T")
_INSTALL = "install the agent-framework extra: pip install -e '.[agent-framework]' in a clone of durable_workflows"


def from_agent_framework(
    agent: Any, *, chat_client: ChatClient | None = None, **options: Any
) -> Agent:
    """An `Agent` with `agent`'s name, instructions, function tools and response format.

    The model is `chat_client` if given, else the Agent Framework agent's own chat client
    (through `AgentFrameworkChatClient`). `options` go to `Agent` (``session_ttl``,
    ``max_tool_rounds``, ...). Tools the Agent Framework runs elsewhere (hosted or MCP
    tools, declaration-only functions) are refused with `WorkflowDefinitionError`.
    """
    af = _import_agent_framework()
    name = getattr(agent, "name", None)
    if not isinstance(name, str) or not name:
        msg = f"{agent!r} has no name: give the Agent Framework agent name=... to host it"
        raise WorkflowDefinitionError(msg)
    defaults: dict[str, Any] = dict(getattr(agent, "default_options", None) or {})
    tools = [_tool(af, name, t) for t in defaults.get("tools") or ()]
    response_format = defaults.get("response_format")
    if not (isinstance(response_format, type) and issubclass(response_format, BaseModel)):
        response_format = None
    client = chat_client if chat_client is not None else AgentFrameworkChatClient(agent.client)
    instructions = defaults.get("instructions") or ""
    return Agent(name, instructions, client, response_format, tools=tools, **options)


class AgentFrameworkTool(Tool):
    """An Agent Framework ``FunctionTool``: its own schema, run by its own ``invoke``."""

    def __init__(self, function_tool: Any) -> None:
        super().__init__(
            function_tool.func, name=function_tool.name, description=function_tool.description
        )
        self.function_tool = function_tool
        self.parameters = dict(function_tool.parameters())

    def invoke(self, call: ToolCall) -> ToolResult:
        """Run the call through the Agent Framework (argument validation included)."""
        try:
            arguments = json.loads(call.arguments or "{}")
            value = _run(self.function_tool.invoke(arguments=arguments, skip_parsing=True))
        except Exception as exc:
            return self._error(call, f"{type(exc).__name__}: {exc}")
        return ToolResult(call_id=call.id, name=self.name, content=result_text(value))


def _tool(af: Any, agent_name: str, candidate: Any) -> Tool:
    if isinstance(candidate, af.FunctionTool):
        if candidate.declaration_only:
            msg = (
                f"Agent {agent_name!r}: tool {candidate.name!r} is declaration-only (no "
                "function to run); give it a function"
            )
            raise WorkflowDefinitionError(msg)
        return AgentFrameworkTool(candidate)
    if callable(candidate) and not isinstance(candidate, type):
        return Tool(candidate)
    msg = (
        f"Agent {agent_name!r}: tool {candidate!r} runs outside this process (a hosted or MCP "
        "tool); only function tools can be durable activities"
    )
    raise WorkflowDefinitionError(msg)


class AgentFrameworkChatClient:
    """A `ChatClient` over an Agent Framework chat client (``get_response``).

    Tools are sent as declarations only, so the Agent Framework returns the model's tool calls
    instead of running them: the turn runs them (durably, as activities). Its coroutines run
    on one event loop of its own, in a background thread.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def complete(
        self,
        messages: list[ChatMessage],
        *,
        response_format: type[BaseModel] | None,
        tools: Sequence[dict[str, Any]] | None = None,
        on_delta: DeltaCallback | None = None,
    ) -> ChatCompletion:
        """Ask the Agent Framework client; its text (streamed to `on_delta`) and tool calls."""
        af = _import_agent_framework()
        options: dict[str, Any] = {}
        if tools:
            options["tools"] = [_declaration(af, spec) for spec in tools]
        if response_format is not None:
            options["response_format"] = response_format
        request = [_af_message(af, m) for m in messages]
        try:
            response = _run(self._respond(request, options, on_delta))
        except Exception as exc:
            msg = f"the Agent Framework client {type(self.client).__name__} failed: {exc}"
            raise ChatClientError(msg, retryable=True) from exc
        return _completion(response)

    async def _respond(
        self, request: list[Any], options: dict[str, Any], on_delta: DeltaCallback | None
    ) -> Any:
        if on_delta is None:
            return await self.client.get_response(request, options=options)
        stream = self.client.get_response(request, stream=True, options=options)
        async for update in stream:
            if update.text:
                on_delta(update.text)
        return await stream.get_final_response()

    def __repr__(self) -> str:
        return f"AgentFrameworkChatClient({type(self.client).__name__})"


def _declaration(af: Any, spec: dict[str, Any]) -> Any:
    function = spec["function"]
    return af.FunctionTool(
        name=function["name"],
        description=function.get("description", ""),
        func=None,
        input_model=function["parameters"],
    )


def _af_message(af: Any, message: ChatMessage) -> Any:
    if message.role == "tool":
        result = af.Content.from_function_result(
            call_id=message.tool_call_id or "", result=message.content
        )
        return af.Message(role="tool", contents=[result])
    contents: list[Any] = [message.content] if message.content else []
    contents += [
        af.Content.from_function_call(call_id=c.id, name=c.name, arguments=c.arguments)
        for c in message.tool_calls
    ]
    return af.Message(role=message.role, contents=contents)


def _completion(response: Any) -> ChatCompletion:
    calls = tuple(
        ToolCall(
            id=content.call_id,
            name=content.name,
            arguments=content.arguments
            if isinstance(content.arguments, str)
            else json.dumps(content.arguments or {}),
        )
        for message in response.messages
        for content in message.contents
        if content.type == "function_call"
    )
    details = response.usage_details or {}
    usage = Usage(
        input_tokens=details.get("input_token_count") or 0,
        output_tokens=details.get("output_token_count") or 0,
        total_tokens=details.get("total_token_count") or 0,
    )
    finish = response.finish_reason
    return ChatCompletion(
        text=response.text or "",
        usage=usage,
        finish_reason=None if finish is None else str(finish),
        tool_calls=calls,
    )


_LOOP: asyncio.AbstractEventLoop | None = None
_LOOP_LOCK = threading.Lock()


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on the adapter's event loop (one background thread for all clients,
    so the Agent Framework's async HTTP clients always see the same loop)."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            _LOOP = asyncio.new_event_loop()
            threading.Thread(
                target=_LOOP.run_forever, name="agent-framework-loop", daemon=True
            ).start()
        loop = _LOOP
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result()


def _import_agent_framework() -> Any:
    try:
        import agent_framework
    except ImportError as exc:
        msg = f"The `agent_framework` package is missing: {_INSTALL}"
        raise WorkflowDefinitionError(msg) from exc
    return agent_framework
