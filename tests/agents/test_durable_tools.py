"""Tool-using agents on the durable host: the turn is an orchestration, the model runs in the
thread's entity, each tool call is an activity. Real `openai` client, local OpenAI server,
embedded backend; a kill -9 of a worker process mid-turn does not repeat recorded tool calls."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from durable_workflows import (
    DurableWorkflowHost,
    DurableWorkflowsError,
    WorkflowBuilder,
    WorkflowContext,
    executor,
)
from durable_workflows.agents import Agent, AgentResponse, OpenAIChatClient
from durable_workflows.sidecar import SqliteSidecar
from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply

from .tool_agent_worker import SLOW_SECONDS

WORKER_SCRIPT = Path(__file__).with_name("tool_agent_worker.py")
TIMEOUT = 60.0


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool results of the current turn (after the last user message)."""
    messages = body["messages"]
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return [m for m in messages[last_user:] if m["role"] == "tool"]


def system_of(body: dict[str, Any]) -> str:
    first = body["messages"][0]
    return str(first["content"]) if first["role"] == "system" else ""


def model(body: dict[str, Any]) -> str | ServerReply:
    """Each agent's scripted model, chosen by its instructions."""
    system, results = system_of(body), tool_messages(body)
    user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    if system == "Loop.":
        return ServerReply(tool_calls=(("weather", {"city": "Paris"}),))
    if system == "Parallel.":
        if results:
            return " | ".join(r["content"] for r in results)
        return ServerReply(tool_calls=(("lookup", {"city": "Oslo"}), ("lookup", {"city": "Rome"})))
    if system in ("Careful.", "Strict."):
        if results:
            return f"Sorry: {results[-1]['content']}"
        return ServerReply(tool_calls=(("failing_lookup", {"city": "Atlantis"}),))
    if system == "Operator." and len(results) < 2:
        return ServerReply(tool_calls=((("record", "slow")[len(results)], {"step": user}),))
    if results:
        return f"Forecast: {results[-1]['content']}"
    return ServerReply(tool_calls=(("weather", {"city": user}),))


def weather(city: str) -> str:
    """The weather in a city."""
    return f"18 degrees and sunny in {city}"


def failing_lookup(city: str) -> str:
    raise ValueError(f"no station in {city}")


both_running = threading.Barrier(2, timeout=10)


def lookup(city: str) -> str:
    both_running.wait()  # passes only when the two activities overlap
    return f"{city}: ok"


@executor(id="report")
def report(response: AgentResponse[Any], ctx: WorkflowContext[None, str]) -> None:
    ctx.yield_output(f"report: {response.text}")


def agents(server: LocalOpenAIServer) -> list[Agent]:
    chat = OpenAIChatClient("m", api_key="k", base_url=server.base_url, max_retries=0)
    return [
        Agent("Forecaster", "Forecast.", chat, tools=[weather]),
        Agent("Parallel", "Parallel.", chat, tools=[lookup]),
        Agent("Looper", "Loop.", chat, tools=[weather], max_tool_rounds=2),
        Agent("Careful", "Careful.", chat, tools=[failing_lookup]),
        Agent("Strict", "Strict.", chat, tools=[failing_lookup], tool_errors="raise"),
    ]


@pytest.fixture(scope="module")
def host_parts() -> Iterator[tuple[LocalOpenAIServer, list[Agent], Any]]:
    with LocalOpenAIServer(model) as server:
        built = agents(server)
        forecast = WorkflowBuilder(built[0], name="Forecast").add_edge(built[0], report).build()
        yield server, built, forecast


def drive(
    parts: tuple[LocalOpenAIServer, list[Agent], Any],
    body: Callable[[DurableWorkflowHost], Awaitable[Any]],
) -> Any:
    _, built, forecast = parts

    async def main() -> Any:
        async with DurableWorkflowHost(workflows=[forecast], agents=built) as host:
            return await asyncio.wait_for(body(host), TIMEOUT)

    return asyncio.run(main())


def test_a_durable_tool_turn_answers_with_the_tool_result(host_parts: Any) -> None:
    async def body(host: DurableWorkflowHost) -> tuple[Any, Any, Any]:
        agent = host.agents.get("Forecaster")
        first = await agent.run("Paris")
        second = await agent.run("Oslo", thread_id=first.thread_id)
        return first, second, await agent.get_history(first.thread_id)

    first, second, history = drive(host_parts, body)

    assert first.text == "Forecast: 18 degrees and sunny in Paris"
    assert second.text == "Forecast: 18 degrees and sunny in Oslo"
    assert second.thread_id == first.thread_id
    assert [m.role for m in history] == ["user", "assistant", "tool", "assistant"] * 2
    call = history[1].tool_calls[0]
    assert call.name == "weather" and history[2].tool_call_id == call.id
    assert history[2].content == "18 degrees and sunny in Paris"


def test_durable_parallel_tool_calls_run_as_overlapping_activities(host_parts: Any) -> None:
    async def body(host: DurableWorkflowHost) -> tuple[Any, Any]:
        agent = host.agents.get("Parallel")
        response = await agent.run("both")
        return response, await agent.get_history(response.thread_id)

    response, history = drive(host_parts, body)

    assert response.text == "Oslo: ok | Rome: ok"
    assert [m.role for m in history] == ["user", "assistant", "tool", "tool", "assistant"]


def test_durable_max_tool_rounds_fails_the_turn_and_keeps_the_thread(host_parts: Any) -> None:
    async def body(host: DurableWorkflowHost) -> tuple[str, Any]:
        agent = host.agents.get("Looper")
        thread = agent.new_thread_id()
        with pytest.raises(DurableWorkflowsError) as caught:
            await agent.run("go", thread_id=thread)
        return str(caught.value), await agent.get_history(thread)

    error, history = drive(host_parts, body)

    assert "'Looper'" in error and "max_tool_rounds=2 rounds" in error
    assert history == []


def test_durable_tool_errors_return_to_the_model_or_fail_the_turn(host_parts: Any) -> None:
    async def body(host: DurableWorkflowHost) -> tuple[Any, str]:
        careful = await host.agents.get("Careful").run("weather?")
        with pytest.raises(DurableWorkflowsError) as caught:
            await host.agents.get("Strict").run("weather?")
        return careful, str(caught.value)

    careful, strict_error = drive(host_parts, body)

    assert (
        careful.text
        == "Sorry: Error: tool 'failing_lookup' failed: ValueError: no station in Atlantis"
    )
    assert "'Strict'" in strict_error and "ValueError: no station in Atlantis" in strict_error


def test_a_tool_using_agent_as_a_workflow_node(host_parts: Any) -> None:
    async def body(host: DurableWorkflowHost) -> tuple[Any, Any]:
        run = await host.client.run(host_parts[2], "Lisbon")
        result = await run.wait_for_completion()
        history = await host.agents.get("Forecaster").get_history(f"@dafx-forecaster@{run.run_id}")
        return result, history

    result, history = drive(host_parts, body)

    assert result == "report: Forecast: 18 degrees and sunny in Lisbon"
    assert [m.role for m in history] == ["user", "assistant", "tool", "assistant"]


def test_concurrent_turns_on_one_thread_do_not_interleave(host_parts: Any) -> None:
    async def body(host: DurableWorkflowHost) -> Any:
        agent = host.agents.get("Forecaster")
        thread = agent.new_thread_id()
        await asyncio.gather(*(agent.run(c, thread_id=thread) for c in ("Rome", "Oslo", "Kyiv")))
        return await agent.get_history(thread)

    history = drive(host_parts, body)

    assert [m.role for m in history] == ["user", "assistant", "tool", "assistant"] * 3
    for start in range(0, 12, 4):  # each turn's four messages stay together
        city = history[start].content
        assert history[start + 2].content == f"18 degrees and sunny in {city}"
        assert history[start + 3].content == f"Forecast: 18 degrees and sunny in {city}"


# -- kill -9 in the middle of a turn ----------------------------------------------------------


def start_worker(backend: str, base_url: str, log: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(WORKER_SCRIPT), backend, base_url, str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        process.wait(10)
        raise AssertionError(f"the worker did not start (exit code {process.poll()})")
    return process


def stop_worker(process: subprocess.Popen[str], *, crash: bool) -> None:
    if process.poll() is None:
        if crash:
            process.kill()  # SIGKILL
        else:
            assert process.stdin is not None
            process.stdin.close()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def test_kill_9_mid_turn_does_not_repeat_recorded_tool_calls(tmp_path: Path) -> None:
    """The Operator's turn calls `record` (quick), then `slow`; the worker process is killed
    while `slow` runs. A new worker process resumes the turn: `record`, whose result was
    recorded, does not run again; `slow`, interrupted, runs again; no model call is repeated."""
    log = tmp_path / "tools.log"
    lines = lambda: log.read_text().splitlines() if log.exists() else []  # noqa: E731
    with LocalOpenAIServer(model) as server, SqliteSidecar() as backend:  # redelivers on a crash
        from .tool_agent_worker import operator

        worker = start_worker(backend.address, server.base_url, log)
        try:

            async def main() -> tuple[Any, Any]:
                nonlocal worker
                async with DurableWorkflowHost(
                    agents=[operator(server.base_url, log)],
                    connection_string=backend.address,
                    mode="client",
                ) as client:
                    agent = client.agents.get("Operator")
                    turn = asyncio.create_task(agent.run("deploy"))
                    while "slow-start deploy" not in lines():
                        await asyncio.sleep(0.02)
                    await asyncio.to_thread(stop_worker, worker, crash=True)
                    assert "slow-end deploy" not in lines()  # killed mid-tool
                    worker = await asyncio.to_thread(
                        start_worker, backend.address, server.base_url, log
                    )
                    response = await turn
                    return response, await agent.get_history(response.thread_id)

            response, history = asyncio.run(asyncio.wait_for(main(), TIMEOUT + 4 * SLOW_SECONDS))
        finally:
            stop_worker(worker, crash=False)

    assert lines() == ["record deploy", "slow-start deploy", "slow-start deploy", "slow-end deploy"]
    assert response.text == "Forecast: slow deploy done"
    assert [(m.role, m.content) for m in history] == [
        ("user", "deploy"),
        ("assistant", ""),
        ("tool", "recorded deploy"),
        ("assistant", ""),
        ("tool", "slow deploy done"),
        ("assistant", "Forecast: slow deploy done"),
    ]
    rounds = [len(tool_messages(r.body)) for r in server.requests]
    assert sorted(rounds) == [0, 1, 2]  # each model call once: none repeated after the crash
