"""The tool side of a turn: run the model's tool calls, answer them, bound the rounds.

`Agent` delegates here; its `run_turn` runs the calls in threads, while the durable host runs
each call as an activity (`Agent.call_tool`) and hands the results back (`add_tool_results`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from ..model.agent_protocol import ChatMessage, ToolCall, ToolResult, TurnProgress
from ._chat_client import ChatCompletion
from ._errors import AgentResponseError, AgentToolError, AgentToolRoundsError
from ._tools import Tool

ToolErrors = Literal["return", "raise"]
"""What a failing tool call does: go back to the model as the tool's result, or fail the turn."""


class ToolBox:
    """An agent's tools with its `max_tool_rounds` and `tool_errors` policy."""

    def __init__(
        self, agent_name: str, tools: tuple[Tool, ...], max_rounds: int, errors: ToolErrors
    ) -> None:
        self.agent_name = agent_name
        self.tools = tools
        self.max_rounds = max_rounds
        self.errors = errors
        self._by_name = {t.name: t for t in tools}

    def specs(self) -> list[dict[str, Any]]:
        """The ``tools`` entries of a chat-completions request."""
        return [t.spec() for t in self.tools]

    def call(self, call: ToolCall) -> ToolResult:
        """Run one tool call; failures (unknown tool, bad arguments, an exception) are results."""
        found = self._by_name.get(call.name)
        if found is None:
            known = ", ".join(sorted(self._by_name)) or "none"
            text = f"Error: there is no tool named {call.name!r} (the tools are: {known})"
            return ToolResult(call_id=call.id, name=call.name, content=text, error=True)
        return found.invoke(call)

    def call_all(self, calls: tuple[ToolCall, ...]) -> list[ToolResult]:
        """Run `calls` at the same time (in threads); results in call order."""
        if len(calls) == 1:
            return [self.call(calls[0])]
        prefix = f"{self.agent_name}-tool"
        with ThreadPoolExecutor(len(calls), thread_name_prefix=prefix) as pool:
            return list(pool.map(self.call, calls))

    def answer(
        self, turn: TurnProgress, results: list[ToolResult], *, thread_id: str
    ) -> TurnProgress:
        """`turn` with the results as ``tool`` messages (raises on a failure with "raise")."""
        where = f"Agent {self.agent_name!r} (thread {thread_id!r})"
        asked = turn.messages[-1].tool_calls if turn.messages else []
        if [r.call_id for r in results] != [c.id for c in asked]:
            msg = (
                f"{where}: the tool results {[r.call_id for r in results]} do not answer the "
                f"calls {[c.id for c in asked]}"
            )
            raise AgentToolError(self.agent_name, msg)
        failed = next((r for r in results if r.error), None)
        if failed is not None and self.errors == "raise":
            msg = (
                f"{where}: {failed.content.removeprefix('Error: ')}. The thread is unchanged "
                "(tool_errors='raise'; use 'return' to let the model see it)."
            )
            raise AgentToolError(self.agent_name, msg)
        answers = [
            ChatMessage(role="tool", content=r.content, tool_call_id=r.call_id) for r in results
        ]
        return turn.model_copy(update={"messages": [*turn.messages, *answers]})

    def check_round(self, turn: TurnProgress, completion: ChatCompletion, thread_id: str) -> None:
        """Refuse a request for tools the agent lacks, or one round too many."""
        where = f"Agent {self.agent_name!r} (thread {thread_id!r})"
        if not self.tools:
            names = ", ".join(c.name for c in completion.tool_calls)
            msg = (
                f"{where}: the model asked for tools ({names}) but the agent has none. "
                "The thread is unchanged."
            )
            raise AgentResponseError(self.agent_name, msg)
        if turn.rounds >= self.max_rounds:
            msg = (
                f"{where}: the model still asked for tools after max_tool_rounds="
                f"{self.max_rounds} rounds of tool calls. The thread is unchanged. Raise "
                "max_tool_rounds, or make the instructions say when to stop calling tools."
            )
            raise AgentToolRoundsError(self.agent_name, msg)
