"""Parallel experts: two agents answer one question at the same time (``when_all``).

A hand-written orchestration gets the PhysicistAgent and the ChemistAgent, gives each its own
session, schedules both turns and waits for both with durabletask's ``when_all``. (A port of
the Agent Framework's durable multi-agent concurrency sample.)

With ``OPENAI_API_KEY`` or ``AZURE_OPENAI_ENDPOINT`` set the agents call that model; otherwise
they use deterministic stand-ins.

    python examples/parallel_experts.py ["question"]
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Generator
from typing import Any

from durabletask.task import when_all

from durable_workflows import DurableWorkflowHost
from durable_workflows.agents import (
    NO_MODEL_CONFIGURED,
    Agent,
    ChatClient,
    DeterministicChatClient,
    chat_client_from_env,
    get_agent,
)

PHYSICIST = "You are an expert in physics. Answer from a physics perspective in two sentences."
CHEMIST = "You are an expert in chemistry. Answer from a chemistry perspective in two sentences."


def agents(client: ChatClient | None = None) -> list[Agent]:
    """The two experts, on `client` (default: the configured model, or stand-ins)."""
    model = client or chat_client_from_env()
    physics = model or DeterministicChatClient(default="Ice is less dense than water.")
    chemistry = model or DeterministicChatClient(default="Hydrogen bonds form an open lattice.")
    return [
        Agent("PhysicistAgent", PHYSICIST, physics),
        Agent("ChemistAgent", CHEMIST, chemistry),
    ]


def parallel_experts(ctx: Any, question: str) -> Generator[Any, Any, dict[str, str]]:
    """Ask both experts at once; return their answers by expert."""
    physicist = get_agent(ctx, "PhysicistAgent")
    chemist = get_agent(ctx, "ChemistAgent")
    answers = yield when_all(
        [
            physicist.run(question, session=physicist.new_session()),
            chemist.run(question, session=chemist.new_session()),
        ]
    )
    return {"physicist": answers[0].text, "chemist": answers[1].text}


QUESTION = "Why does ice float on water?"


async def run(question: str, client: ChatClient | None = None) -> dict[str, str]:
    async with DurableWorkflowHost(
        agents=agents(client), orchestrations=[parallel_experts]
    ) as host:
        result: dict[str, str] = await host.client.run_orchestration(
            parallel_experts, question, timeout=120
        )
        return result


def main() -> None:
    if chat_client_from_env() is None:
        print(f"Using deterministic stand-in agents. {NO_MODEL_CONFIGURED}\n")
    answers = asyncio.run(run(" ".join(sys.argv[1:]) or QUESTION))
    for expert, answer in answers.items():
        print(f"{expert}: {answer}")


if __name__ == "__main__":
    main()
