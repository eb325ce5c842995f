"""An Agent Framework agent (agent-framework-core, its OpenAI chat-completions client) used as
our `Agent`: instructions, function tools and chat client kept; in-process and durably, with
the real `openai` client (inside the Agent Framework's client) against the local server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from durable_workflows import DurableWorkflowHost
from durable_workflows.agents import (
    AgentFrameworkChatClient,
    AgentThreadState,
    OpenAIChatClient,
    from_agent_framework,
)
from durable_workflows.errors import WorkflowDefinitionError
from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply

af = pytest.importorskip("agent_framework")
af_openai = pytest.importorskip("agent_framework.openai")


@af.tool(name="get_weather", description="The weather in a city.")
def weather(city: str) -> str:
    return f"sunny in {city}"


def model(body: dict[str, Any]) -> str | ServerReply:
    messages = body["messages"]
    if messages[-1]["role"] == "tool":
        return f"Forecast: {messages[-1]['content']}"
    return ServerReply(tool_calls=(("get_weather", {"city": messages[-1]["content"]}),))


def af_agent(server: LocalOpenAIServer, name: str = "Forecaster", **kwargs: Any) -> Any:
    client = af_openai.OpenAIChatCompletionClient(model="m", api_key="k", base_url=server.base_url)
    return af.Agent(client, "Forecast with your tools.", name=name, **kwargs)


def test_the_agents_instructions_tools_and_client_are_kept(server: LocalOpenAIServer) -> None:
    server.responder = model
    agent = from_agent_framework(af_agent(server, tools=[weather]))
    deltas: list[str] = []

    thread, response = agent.run_turn(AgentThreadState(), "Paris", thread_id="t1")
    _, streamed = agent.run_turn(thread, "Oslo", thread_id="t1", on_delta=deltas.append)

    assert agent.name == "Forecaster" and isinstance(agent.chat_client, AgentFrameworkChatClient)
    assert response.text == "Forecast: sunny in Paris"
    assert [m.role for m in thread.messages] == ["user", "assistant", "tool", "assistant"]
    first, second = server.requests[:2]
    assert first.messages[0] == {"role": "system", "content": "Forecast with your tools."}
    assert first.tool_names == ["get_weather"]
    assert second.messages[-1] == {
        "role": "tool",
        "tool_call_id": thread.messages[1].tool_calls[0].id,
        "content": "sunny in Paris",
    }
    assert "".join(deltas) == streamed.text == "Forecast: sunny in Oslo"


def test_an_agent_framework_agent_runs_durably(server: LocalOpenAIServer) -> None:
    server.responder = model
    agent = from_agent_framework(af_agent(server, tools=[weather]), session_ttl=None)

    async def main() -> tuple[Any, Any]:
        async with DurableWorkflowHost(agents=[agent]) as host:
            hosted = host.agents.get("Forecaster")
            thread = hosted.new_thread()
            response = await hosted.run("Lisbon", thread=thread)
            return response, await hosted.get_history(thread)

    response, history = asyncio.run(asyncio.wait_for(main(), 60))

    assert response.text == "Forecast: sunny in Lisbon"
    assert [m.role for m in history] == ["user", "assistant", "tool", "assistant"]


def test_our_chat_client_can_replace_the_agents(server: LocalOpenAIServer) -> None:
    server.responder = model
    ours = OpenAIChatClient("m", api_key="k", base_url=server.base_url, max_retries=0)
    agent = from_agent_framework(af_agent(server, tools=[weather]), chat_client=ours)

    _, response = agent.run_turn(AgentThreadState(), "Rome", thread_id="t1")

    assert agent.chat_client is ours and response.text == "Forecast: sunny in Rome"


def test_tools_that_cannot_be_activities_are_refused(server: LocalOpenAIServer) -> None:
    declared = af.FunctionTool(name="remote", description="x", func=None, input_model={})
    with pytest.raises(WorkflowDefinitionError, match="'remote' is declaration-only"):
        from_agent_framework(af_agent(server, tools=[declared]))
    with pytest.raises(WorkflowDefinitionError, match="has no name"):
        from_agent_framework(af_agent(server, name=None))  # type: ignore[arg-type]
