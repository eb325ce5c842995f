"""Streamed agent replies: OpenAI ``stream=True`` through the real `openai` client against the
local server; deltas stored durably as they come, so a reader that disconnects resumes from its
cursor and gets every delta exactly once; a worker killed mid-stream leaves a restart marker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from durable_workflows import AgentStreamUpdate, DurableWorkflowHost, DurableWorkflowsError
from durable_workflows.agents import Agent, AgentThreadState, OpenAIChatClient
from durable_workflows.sidecar import SqliteSidecar
from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply

from .durable_agent_worker import joker

WORKER_SCRIPT = Path(__file__).with_name("durable_agent_worker.py")
WORDS = tuple(f"word{i} " for i in range(1, 11))


def chat(server: LocalOpenAIServer) -> OpenAIChatClient:
    return OpenAIChatClient("m", api_key="k", base_url=server.base_url, max_retries=0)


def total(body: dict[str, Any]) -> str:
    return str(sum(int(n) for n in body["messages"][-1]["content"].split("+")))


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def model(body: dict[str, Any]) -> str | ServerReply:
    messages = body["messages"]
    if body.get("tools") and messages[-1]["role"] != "tool":
        return ServerReply(tool_calls=(("add", {"a": 2, "b": 3}),))
    if messages[-1]["role"] == "tool":
        return f"The sum is {messages[-1]['content']}."
    return f"echo: {messages[-1]['content']}"


def test_an_in_process_turn_streams_its_reply(server: LocalOpenAIServer) -> None:
    server.enqueue(ServerReply(chunks=WORDS))
    agent = Agent("Teller", "Tell.", chat(server))
    deltas: list[str] = []

    thread, response = agent.run_turn(
        AgentThreadState(), "a story", thread_id="t1", on_delta=deltas.append
    )

    assert deltas == list(WORDS)
    assert response.text == "".join(WORDS) == thread.messages[-1].content
    assert response.usage.output_tokens == 10  # stream_options.include_usage
    assert server.requests[0].body["stream"] is True


class Hosted:
    """One SQLite sidecar and a worker-only host; readers connect with client-only hosts."""

    def __init__(self, server: LocalOpenAIServer, backend: SqliteSidecar) -> None:
        self.agents = [
            Agent("Teller", "Tell.", chat(server)),
            Agent("Adder", "Add with tools.", chat(server), tools=[add]),
        ]
        self.address = backend.address
        self.worker = DurableWorkflowHost(
            agents=self.agents, connection_string=backend.address, mode="worker"
        )

    def read(self, body: Callable[[DurableWorkflowHost], Awaitable[Any]]) -> Any:
        """Run `body` with a fresh client connection (a new reader) in a new event loop."""

        async def main() -> Any:
            async with DurableWorkflowHost(
                agents=self.agents, connection_string=self.address, mode="client"
            ) as host:
                return await asyncio.wait_for(body(host), 60)

        return asyncio.run(main())


@pytest.fixture
def hosted() -> Iterator[tuple[LocalOpenAIServer, Hosted]]:
    with LocalOpenAIServer(model) as server, SqliteSidecar() as backend:
        parts = Hosted(server, backend)
        parts.worker.start()
        try:
            yield server, parts
        finally:
            parts.worker.stop()


def test_a_reader_that_disconnects_halfway_resumes_from_its_cursor(hosted: Any) -> None:
    server, parts = hosted
    release = threading.Event()
    server.enqueue(ServerReply(chunks=WORDS, hold_after=5, release=release))

    async def first_reader(host: DurableWorkflowHost) -> tuple[str, list[AgentStreamUpdate]]:
        stream = host.agents.get("Teller").run_stream("Tell a story")
        got: list[AgentStreamUpdate] = []
        async for update in stream:
            got.append(update)
            if len(got) == 5:
                break  # disconnect: this reader and its connection go away
        return stream.stream_id, got

    stream_id, first = parts.read(first_reader)
    live = not release.is_set()  # the model was still producing: the deltas came live
    release.set()

    async def second_reader(host: DurableWorkflowHost) -> tuple[list[Any], Any, Any]:
        teller = host.agents.get("Teller")
        stream = teller.resume_stream(stream_id, cursor=first[-1].cursor)
        rest = [update async for update in stream]
        response = await stream.response()
        replay = [u async for u in teller.resume_stream(stream_id)]
        return rest, response, replay

    rest, response, replay = parts.read(second_reader)

    assert live
    updates = first + rest
    assert [u.cursor for u in updates] == list(range(1, 11))  # each delta exactly once
    assert [u.text for u in updates] == list(WORDS)
    assert not any(u.restart for u in updates)
    assert response.text == "".join(WORDS)
    assert replay == updates  # from cursor 0, after the end: the same updates again


def test_an_expired_stream_ends_with_an_error_instead_of_waiting(
    hosted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a finished turn's deltas are deleted (retention), a reader is told, not left polling."""
    from durabletask.entities import EntityInstanceId

    from durable_workflows.durable.names import AGENT_STREAM_ENTITY
    from durable_workflows.hosting import agent_stream

    server, parts = hosted
    server.enqueue(ServerReply(chunks=WORDS[:3]))
    monkeypatch.setattr(agent_stream, "EXPIRY_GRACE", timedelta(0))

    async def reader(host: DurableWorkflowHost) -> tuple[str, str]:
        teller = host.agents.get("Teller")
        stream = teller.run_stream("Tell a story")
        assert len([u async for u in stream]) == 3
        client = host.client.durable_client
        entity = EntityInstanceId(AGENT_STREAM_ENTITY, stream.stream_id)
        await client.signal_entity(entity, "delete")  # what the retention signal does
        while await client.get_entity(entity, include_state=True) is not None:
            await asyncio.sleep(0.02)
        with pytest.raises(DurableWorkflowsError) as resumed:
            [u async for u in teller.resume_stream(stream.stream_id)]
        return str(resumed.value), (await teller.resume_stream(stream.stream_id).response()).text

    message, text = parts.read(reader)
    assert "has expired" in message
    assert text == "".join(WORDS[:3])


def test_a_tool_using_turn_streams_its_answer(hosted: Any) -> None:
    _, parts = hosted

    async def reader(host: DurableWorkflowHost) -> tuple[list[AgentStreamUpdate], Any, Any]:
        adder = host.agents.get("Adder")
        thread = adder.new_thread()
        stream = adder.run_stream("2+3?", thread=thread)
        updates = [u async for u in stream]
        return updates, await stream.response(), await adder.get_history(thread)

    updates, response, history = parts.read(reader)

    assert "".join(u.text for u in updates) == response.text == "The sum is 5."
    assert [m.role for m in history] == ["user", "assistant", "tool", "assistant"]


def test_a_failed_streamed_turn_raises_for_the_reader(hosted: Any) -> None:
    server, parts = hosted
    server.fail_next(1, status=500)

    async def reader(host: DurableWorkflowHost) -> tuple[str, str]:
        stream = host.agents.get("Teller").run_stream("fail")
        with pytest.raises(DurableWorkflowsError) as iterating:
            _ = [u async for u in stream]
        with pytest.raises(DurableWorkflowsError) as waiting:
            await stream.response()
        return str(iterating.value), str(waiting.value)

    iterating, waiting = parts.read(reader)

    assert "HTTP 500" in iterating and "'Teller'" in iterating
    assert iterating == waiting


# -- kill -9 of the worker in the middle of a streamed model call ------------------------------


def start_worker(backend: str, base_url: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(WORKER_SCRIPT), backend, base_url],
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


def test_a_worker_killed_mid_stream_leaves_a_restart_marker(server: LocalOpenAIServer) -> None:
    held = threading.Event()
    first = ServerReply(chunks=("Arr ", "matey ", "lost ", "words"), hold_after=2, release=held)
    server.enqueue(first, ServerReply(chunks=("Yo ", "ho ", "ho")))
    with SqliteSidecar() as backend:
        worker = start_worker(backend.address, server.base_url)
        try:

            async def main() -> tuple[list[AgentStreamUpdate], Any]:
                nonlocal worker
                async with DurableWorkflowHost(
                    agents=[joker(server.base_url)],
                    connection_string=backend.address,
                    mode="client",
                ) as host:
                    stream = host.agents.get("Joker").run_stream("a joke")
                    updates: list[AgentStreamUpdate] = []
                    async for update in stream:
                        updates.append(update)
                        if len(updates) == 2:  # the model is held after two deltas: crash now
                            await asyncio.to_thread(stop, worker, kill=True)
                            worker = await asyncio.to_thread(
                                start_worker, backend.address, server.base_url
                            )
                    return updates, await stream.response()

            updates, response = asyncio.run(asyncio.wait_for(main(), 60))
        finally:
            held.set()
            stop(worker, kill=False)

    assert [(u.text, u.restart) for u in updates] == [
        ("Arr ", False),
        ("matey ", False),
        ("", True),  # the model call is repeated: drop "Arr matey "
        ("Yo ", False),
        ("ho ", False),
        ("ho", False),
    ]
    assert [u.cursor for u in updates] == list(range(1, 7))
    assert response.text == "Yo ho ho"
