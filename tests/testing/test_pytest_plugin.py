"""The pytest plugin's fixtures (entry point ``pytest11: durable_workflows``), used as a user
would: no conftest in this directory provides them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from durable_workflows import DurableWorkflowHost, RequestPort, WorkflowBuilder, executor
from durable_workflows.agents import Agent, OpenAIChatClient
from durable_workflows.testing import run_in_process
from durable_workflows.testing.openai_server import LocalOpenAIServer


def test_workflow_host_starts_a_host_per_call(
    workflow_host: Callable[..., DurableWorkflowHost],
) -> None:
    @executor(id="ask")
    def ask(x: int) -> int:
        return x

    port = RequestPort("approve", request_type=int, response_type=bool, timeout=timedelta(hours=1))
    flow = WorkflowBuilder(ask, name="PluginFlow").add_edge(ask, port).build()
    host = workflow_host(flow, clock="virtual")
    assert host.address

    async def scenario() -> str:
        run = await host.client.run(flow, 3)
        await host.advance(timedelta(hours=1))
        return (await run.get_status()).status

    assert asyncio.run(scenario()) == "FAILED"


def test_openai_server_answers_an_agent(openai_server: LocalOpenAIServer) -> None:
    model = OpenAIChatClient("test-model", api_key="sk-test", base_url=openai_server.base_url)
    poet = Agent("Poet", "Answer briefly.", model)
    flow = WorkflowBuilder(poet, name="Poem").build()
    result = run_in_process(flow, "rain")
    assert result.status == "completed"
    assert result.result.text == "echo: rain"
    assert openai_server.requests[0].messages[-1]["content"] == "rain"
