"""`DurableAgent` against a slow stand-in of the durabletask client (no backend)."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest

from durable_workflows.agents import Agent, AgentThreadState, DeterministicChatClient
from durable_workflows.hosting.agent_client import DurableAgent
from durable_workflows.values.serialization import TypeRegistry


class SlowDurableClient:
    """Completes every agent turn with `output` once `after` seconds have passed."""

    def __init__(self, output: Any, after: float) -> None:
        self.output = output
        self.done_at = time.monotonic() + after
        self.reads = 0

    async def schedule_new_orchestration(self, name: str, **kwargs: Any) -> str:
        return str(kwargs["instance_id"])

    async def get_orchestration_state(self, instance_id: str, *, fetch_payloads: bool) -> Any:
        self.reads += 1
        done = time.monotonic() >= self.done_at
        return SimpleNamespace(
            runtime_status=SimpleNamespace(name="COMPLETED" if done else "RUNNING"),
            failure_details=None,
            serialized_output=json.dumps(self.output) if fetch_payloads else None,
        )


def test_run_waits_with_the_given_timeout_not_a_truncated_one() -> None:
    """A 0.5 s timeout is 0.5 s (int() once made it an immediate deadline), and the wait polls."""
    agent = Agent("Echo", "Echo.", DeterministicChatClient())
    thread = "@dafx-echo@t1"
    _, reply = agent.run_turn(AgentThreadState(), "hi", thread_id=thread)
    encoded = TypeRegistry([agent.response_type]).encode(reply)
    client = SlowDurableClient(encoded, after=0.2)

    response = asyncio.run(DurableAgent(client, agent).run("hi", thread_id=thread, timeout=0.5))

    assert client.reads > 2
    with pytest.raises(TimeoutError, match="agent turn"):
        late = SlowDurableClient(encoded, after=5)
        asyncio.run(DurableAgent(late, agent).run("hi", thread_id=thread, timeout=0.3))
    assert response.text == reply.text
