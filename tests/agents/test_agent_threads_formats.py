"""Thread objects (`agent.new_thread()`) and per-call `response_format` on every path: the
client, a workflow node (durable and in-process) and an orchestration (see also
test_agent_orchestrations). Real `openai` client against the local OpenAI server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from durable_workflows import (
    AgentNode,
    DurableWorkflowHost,
    DurableWorkflowsError,
    InvalidResponseError,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowDefinitionError,
    executor,
)
from durable_workflows.agents import (
    Agent,
    AgentResponse,
    AgentSession,
    OpenAIChatClient,
    ResponseFormatError,
)
from durable_workflows.testing import run_in_process
from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply


class Verdict(BaseModel):
    approved: bool
    reason: str


class Summary(BaseModel):
    headline: str


class Unimportable(BaseModel):
    note: str


Unimportable.__module__ = "no_such_module_for_tests"


def lookup(item: str) -> str:
    """Look an item up."""
    return f"{item} is in stock"


def model(body: dict[str, Any]) -> str | dict[str, Any] | ServerReply:
    """Structured requests get a value built from the last user message; tool agents call
    `lookup` first; anything else is counted turns."""
    messages = body["messages"]
    user = [m["content"] for m in messages if m["role"] == "user"][-1]
    if body.get("tools") and messages[-1]["role"] != "tool":
        return ServerReply(tool_calls=(("lookup", {"item": user}),))
    schema = (body.get("response_format") or {}).get("json_schema", {})
    if schema.get("name") == "Verdict":
        return {"approved": "good" in user, "reason": f"read: {user}"}
    if schema.get("name") == "Summary":
        last = messages[-1]["content"]
        return {"headline": last.upper()}
    turns = sum(1 for m in messages if m["role"] == "user")
    return f"turn {turns}: {user}"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(model) as running:
        yield running


_AGENTS: dict[str, list[Agent]] = {}


def agents(server: LocalOpenAIServer) -> list[Agent]:
    """The test agents on `server` (one set per server: agent names must be unique)."""
    if server.base_url not in _AGENTS:
        chat = OpenAIChatClient("m", api_key="k", base_url=server.base_url, max_retries=0)
        _AGENTS[server.base_url] = [
            Agent("Chatty", "Chat.", chat),
            Agent("Judge", "Judge.", chat, Verdict),
            Agent("Clerk", "Use tools.", chat, tools=[lookup]),
        ]
    return _AGENTS[server.base_url]


@executor(id="decide")
def decide(response: AgentResponse[Verdict], ctx: WorkflowContext[None, str]) -> None:
    verdict = response.value
    ctx.yield_output(f"{'yes' if verdict.approved else 'no'} ({verdict.reason})")


def judged(server: LocalOpenAIServer) -> Any:
    chatty = agents(server)[0]
    node = AgentNode(chatty, id="judge", response_format=Verdict)
    return WorkflowBuilder(node, name="Judged").add_edge(node, decide).build()


def on_host(server: LocalOpenAIServer, body: Any, workflows: list[Any] = []) -> Any:  # noqa: B006
    async def main() -> Any:
        async with DurableWorkflowHost(workflows=workflows, agents=agents(server)) as host:
            return await asyncio.wait_for(body(host), 60)

    return asyncio.run(main())


def test_a_thread_object_makes_two_calls_one_conversation(server: LocalOpenAIServer) -> None:
    async def body(host: DurableWorkflowHost) -> tuple[Any, ...]:
        chatty = host.agents.get("Chatty")
        thread = chatty.new_thread()
        first = await chatty.run("hello", thread=thread)
        second = await chatty.run("again", thread=thread)
        third = await chatty.run("by id", thread=first.thread_id)  # the string works too
        other = await chatty.run("elsewhere", thread=chatty.new_thread())
        with pytest.raises(InvalidResponseError, match="not both"):
            await chatty.run("x", thread=thread, thread_id=thread.thread_id)
        return thread, first, second, third, other, await chatty.get_history(thread)

    thread, first, second, third, other, history = on_host(server, body)

    assert isinstance(thread, AgentSession) and str(thread) == thread.thread_id
    assert thread.thread_id.startswith("@dafx-chatty@")
    assert first.thread_id == second.thread_id == third.thread_id == thread.thread_id
    assert [first.text, second.text, third.text] == [
        "turn 1: hello",
        "turn 2: again",
        "turn 3: by id",
    ]
    assert other.text == "turn 1: elsewhere" and other.thread_id != thread.thread_id
    assert [m.content for m in history if m.role == "user"] == ["hello", "again", "by id"]


def test_per_call_response_format_from_the_client(server: LocalOpenAIServer) -> None:
    async def body(host: DurableWorkflowHost) -> tuple[Any, ...]:
        chatty, judge, clerk = (host.agents.get(n) for n in ("Chatty", "Judge", "Clerk"))
        summary = await chatty.run("good news", response_format=Summary)
        plain = await chatty.run("plain", thread=summary.thread_id)
        overridden = await judge.run("a good plan", response_format=Summary)
        own = await judge.run("a good plan")
        tooled = await clerk.run("apples", response_format=Summary)
        return summary, plain, overridden, own, tooled

    summary, plain, overridden, own, tooled = on_host(server, body)

    assert summary.value == Summary(headline="GOOD NEWS")
    assert plain.value is None and plain.text == "turn 2: plain"
    assert overridden.value == Summary(headline="A GOOD PLAN")  # instead of the agent's Verdict
    assert own.value == Verdict(approved=True, reason="read: a good plan")
    assert tooled.value == Summary(headline="APPLES IS IN STOCK")  # the tool path honours it
    schemas = [r.json_schema for r in server.requests if r.json_schema is not None]
    assert {"headline"} in [set(s["properties"]) for s in schemas]


def test_per_call_response_format_that_cannot_travel(server: LocalOpenAIServer) -> None:
    class Local(BaseModel):
        note: str

    async def body(host: DurableWorkflowHost) -> str:
        chatty = host.agents.get("Chatty")
        with pytest.raises(ResponseFormatError, match="define the class at module level"):
            await chatty.run("x", response_format=Local)
        with pytest.raises(DurableWorkflowsError) as caught:
            await chatty.run("x", response_format=Unimportable)
        return str(caught.value)

    error = on_host(server, body)

    assert "cannot import response_format no_such_module_for_tests.Unimportable" in error


def test_a_nodes_response_format_durably_and_in_process(server: LocalOpenAIServer) -> None:
    workflow = judged(server)

    async def body(host: DurableWorkflowHost) -> list[Any]:
        results = []
        for text in ("a good idea", "a bad idea"):
            run = await host.client.run(workflow, text)
            results.append(await run.wait_for_completion())
        return results

    durable = on_host(server, body, [workflow])
    in_process = [run_in_process(workflow, t).result for t in ("a good idea", "a bad idea")]

    assert durable == in_process == ["yes (read: a good idea)", "no (read: a bad idea)"]
    node = workflow.nodes["judge"]
    assert node.output_types == (AgentResponse[Verdict],)


def test_a_nodes_response_format_must_be_importable_by_workers(server: LocalOpenAIServer) -> None:
    class Local(BaseModel):
        approved: bool
        reason: str

    chatty = agents(server)[0]
    node = AgentNode(chatty, id="local", response_format=Local)
    workflow = WorkflowBuilder(node, name="LocalFormat").build()
    host = DurableWorkflowHost(workflows=[workflow])

    with pytest.raises(WorkflowDefinitionError, match="agent node 'local': response_format"):
        host.start()
    with pytest.raises(DurableWorkflowsError, match="not started"):
        _ = host.address  # the embedded backend was stopped again
    with pytest.raises(WorkflowDefinitionError, match="must be a pydantic model class"):
        AgentNode(chatty, response_format=dict)  # type: ignore[arg-type]
