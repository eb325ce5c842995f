"""A worker killed with kill -9 in the middle of a streamed reply: the model call is repeated by
a new worker, and the SSE stream of ``POST /api/agents/Joker/run?stream=true`` shows it as a
``restart`` event (with its cursor) between the lost text and the repeated call's text."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from durable_workflows import DurableWorkflowHost
from durable_workflows.agents import Agent, OpenAIChatClient
from durable_workflows.http import create_app
from durable_workflows.sidecar import SqliteSidecar
from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply

from .test_agent_stream_routes import sse

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WORKER = Path(__file__).parents[1] / "agents" / "durable_agent_worker.py"


def start_worker(backend: str, base_url: str) -> subprocess.Popen[str]:
    """The Joker's worker as its own process (prints ``ready``; stops when stdin closes)."""
    process = subprocess.Popen(
        [sys.executable, str(WORKER), backend, base_url],
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


def stop(process: subprocess.Popen[str], *, kill: bool) -> None:
    if process.poll() is None:
        if kill:
            process.kill()
        else:
            assert process.stdin is not None
            process.stdin.close()
    process.wait(20)


def test_a_worker_killed_mid_stream_shows_as_a_restart_event() -> None:
    held = threading.Event()
    first = ServerReply(chunks=("Arr ", "matey ", "lost ", "words"), hold_after=2, release=held)
    with LocalOpenAIServer() as server, SqliteSidecar() as backend:
        server.enqueue(first, ServerReply(chunks=("Yo ", "ho ", "ho")))
        workers = [start_worker(backend.address, server.base_url)]
        joker = Agent(
            "Joker", "Jokes.", OpenAIChatClient("m", api_key="k", base_url=server.base_url)
        )

        async def main() -> httpx.Response:
            async with DurableWorkflowHost(
                agents=[joker], connection_string=backend.address, mode="client"
            ) as host:
                transport = httpx.ASGITransport(app=create_app(host))
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                    url = "/api/agents/Joker/run?stream=true&streamId=crash-1"
                    post = asyncio.create_task(c.post(url, content="a joke"))
                    agent = host.agents.get("Joker")
                    while await agent.stream_thread("crash-1") is None:
                        await asyncio.sleep(0.01)
                    seen = 0
                    async for _ in agent.resume_stream("crash-1"):
                        seen += 1
                        if seen == 2:  # the model is held after two deltas: crash now
                            break
                    await asyncio.to_thread(stop, workers[0], kill=True)
                    workers.append(
                        await asyncio.to_thread(start_worker, backend.address, server.base_url)
                    )
                    return await post

        try:
            response = asyncio.run(asyncio.wait_for(main(), 60))
        finally:
            held.set()
            stop(workers[-1], kill=False)

    events = sse(response.text)
    assert [(e.event, e.id, e.data.get("text")) for e in events[1:-1]] == [
        ("delta", 1, "Arr "),
        ("delta", 2, "matey "),
        ("restart", 3, None),  # drop "Arr matey ": the model call is repeated
        ("delta", 4, "Yo "),
        ("delta", 5, "ho "),
        ("delta", 6, "ho"),
    ]
    assert events[-1].event == "done" and events[-1].data["response"] == "Yo ho ho"
