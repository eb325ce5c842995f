"""`DurableAgent` against a recording stand-in of the durabletask client (no backend)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

from durable_workflows.agents import Agent, AgentThreadState, DeterministicChatClient
from durable_workflows.hosting.agent_client import DurableAgent
from durable_workflows.values.serialization import TypeRegistry


class RecordingDurableClient:
    """Completes every agent turn with `output` and records the timeouts it waited with."""

    def __init__(self, output: Any) -> None:
        self.output = output
        self.timeouts: list[float] = []

    async def schedule_new_orchestration(self, name: str, **kwargs: Any) -> str:
        return str(kwargs["instance_id"])

    async def wait_for_orchestration_completion(
        self, instance_id: str, *, fetch_payloads: bool, timeout: float
    ) -> Any:
        self.timeouts.append(timeout)
        return SimpleNamespace(
            runtime_status=SimpleNamespace(name="COMPLETED"),
            failure_details=None,
            serialized_output=json.dumps(self.output),
        )


def test_run_waits_with_the_given_timeout_not_a_truncated_one() -> None:
    agent = Agent("Echo", "Echo.", DeterministicChatClient())
    thread = "@dafx-echo@t1"
    _, reply = agent.run_turn(AgentThreadState(), "hi", thread_id=thread)
    client = RecordingDurableClient(TypeRegistry([agent.response_type]).encode(reply))

    response = asyncio.run(DurableAgent(client, agent).run("hi", thread_id=thread, timeout=0.5))

    assert client.timeouts == [0.5]
    assert response.text == reply.text
