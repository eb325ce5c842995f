"""DocumentPublishing: a research agent, then a writer agent, in a hand-written orchestration.

The orchestration asks the ResearchAgent for notes on a topic, gives them to the WriterAgent
with a per-call structured output (`Document`), and publishes the document with an activity.
Every step is durable: after a crash the orchestration resumes without calling a finished
agent again. (A port of the Agent Framework's durable DocumentPublishing sample.)

With ``OPENAI_API_KEY`` or ``AZURE_OPENAI_ENDPOINT`` set the agents call that model; otherwise
they use deterministic stand-ins.

    python examples/document_publishing.py ["topic"]
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Generator
from typing import Any

from pydantic import BaseModel

from durable_workflows import DurableWorkflowHost
from durable_workflows.agents import (
    NO_MODEL_CONFIGURED,
    Agent,
    ChatClient,
    DeterministicChatClient,
    chat_client_from_env,
    get_agent,
)

RESEARCHER = "You are a researcher. List the three most important facts about the topic."
WRITER = "You are a technical writer. Write a short, clear article from the notes you get."


class Document(BaseModel):
    title: str
    body: str


def agents(client: ChatClient | None = None) -> list[Agent]:
    """The ResearchAgent and the WriterAgent, on `client` (default: the configured model, or
    stand-ins)."""
    model = client or chat_client_from_env()
    research = model or DeterministicChatClient(
        default="1. Durable functions checkpoint progress. 2. They replay. 3. They scale out."
    )
    writer = model or DeterministicChatClient(
        default=Document(
            title="Durable agents in three facts",
            body="Durable functions checkpoint progress, replay after failures and scale out.",
        )
    )
    return [Agent("ResearchAgent", RESEARCHER, research), Agent("WriterAgent", WRITER, writer)]


def publish_document(ctx: Any, document: dict[str, Any]) -> str:
    """Activity: publish the document (here: describe what would be published)."""
    doc = Document.model_validate(document)
    return f"Published '{doc.title}' ({len(doc.body.split())} words)"


def document_publishing(ctx: Any, topic: str) -> Generator[Any, Any, str]:
    """Research, write (structured), publish."""
    research = get_agent(ctx, "ResearchAgent")
    writer = get_agent(ctx, "WriterAgent")
    notes = yield research.run(f"Research the topic: {topic}")
    draft = yield writer.run(
        f"Write a short article about {topic} from these notes:\n{notes.text}",
        response_format=Document,
    )
    published: str = yield ctx.call_activity(publish_document, input=draft.value.model_dump())
    return published


TOPIC = "durable agents"


async def run(topic: str, client: ChatClient | None = None) -> str:
    async with DurableWorkflowHost(
        agents=agents(client),
        orchestrations=[document_publishing],
        activities=[publish_document],
    ) as host:
        result: str = await host.client.run_orchestration(document_publishing, topic, timeout=120)
        return result


def main() -> None:
    if chat_client_from_env() is None:
        print(f"Using deterministic stand-in agents. {NO_MODEL_CONFIGURED}\n")
    print(asyncio.run(run(" ".join(sys.argv[1:]) or TOPIC)))


if __name__ == "__main__":
    main()
