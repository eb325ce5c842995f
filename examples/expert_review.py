"""ExpertReview: fan-out to two agents, fan-in their answers.

ParseQuestion -> fan-out [Physicist, Chemist] -> fan-in Aggregator. The agents are workflow
nodes: both get the question in the same superstep, and the Aggregator runs once it has one
`AgentResponse` from each (as a list). Durably, each agent turn runs in an agent entity.

With ``OPENAI_API_KEY`` or ``AZURE_OPENAI_ENDPOINT`` set the agents call that model; otherwise
they use `DeterministicChatClient`, a stand-in that answers without network or keys.

    python examples/expert_review.py ["your question"]
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from durable_workflows import AgentResponse, DurableWorkflowHost, WorkflowBuilder, executor
from durable_workflows.agents import (
    NO_MODEL_CONFIGURED,
    Agent,
    ChatClient,
    DeterministicChatClient,
    chat_client_from_env,
)

MODEL = chat_client_from_env()
"""The configured model, or None (then each agent gets a deterministic stand-in)."""


def chat_client(stand_in_answer: str) -> ChatClient:
    return MODEL if MODEL is not None else DeterministicChatClient(default=stand_in_answer)


physicist = Agent(
    "Physicist",
    "You are a physicist. Answer in two sentences from a physics point of view.",
    chat_client("Ice floats because water expands as it freezes, so ice is less dense."),
)
chemist = Agent(
    "Chemist",
    "You are a chemist. Answer in two sentences from a chemistry point of view.",
    chat_client("Hydrogen bonds lock water molecules into an open hexagonal lattice."),
)


@executor(id="ParseQuestion")
def parse_question(question: str) -> str:
    """Normalise the question before the experts see it."""
    question = " ".join(question.split())
    return question if question.endswith("?") else question + "?"


@executor(id="Aggregator")
def aggregate(responses: list[AgentResponse[Any]]) -> str:
    """Combine the experts' answers into one report (the workflow's result)."""
    lines = [f"Received {len(responses)} AI agent responses"]
    lines += [f"- {r.agent_name}: {r.text}" for r in responses]
    return "\n".join(lines)


workflow = (
    WorkflowBuilder(parse_question, name="ExpertReview")
    .add_fan_out_edge(parse_question, [physicist, chemist])
    .add_fan_in_barrier_edge([physicist, chemist], aggregate)
    .build()
)

QUESTION = "Why does ice float on water"


async def run(question: str) -> str:
    async with DurableWorkflowHost(workflows=[workflow]) as host:
        handle = await host.client.run(workflow, question)
        return await handle.wait_for_completion()


def main() -> None:
    if MODEL is None:
        print(f"Using deterministic stand-in agents. {NO_MODEL_CONFIGURED}\n")
    else:
        print(f"Using {type(MODEL).__name__} for the agents.\n")
    question = " ".join(sys.argv[1:]) or QUESTION
    print(asyncio.run(run(question)))


if __name__ == "__main__":
    main()
