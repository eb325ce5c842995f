"""Joker: the Agent Framework's first durable-agent sample, served over HTTP.

    durable-workflows serve examples/joker_agent.py:joker
    curl -X POST http://127.0.0.1:7071/api/agents/Joker/run -d "Tell me a joke about a pirate."

With OPENAI_API_KEY (or the Azure OpenAI variables) set it asks that model; otherwise it uses
`DeterministicChatClient`, a stand-in that answers without network or keys. Each conversation
thread is a durable entity: continue one by sending its id back (`?thread_id=`).
"""

from __future__ import annotations

from durable_workflows.agents import Agent, DeterministicChatClient, chat_client_from_env

MODEL = chat_client_from_env()
"""The configured model, or None (then the stand-in answers)."""

STAND_IN = DeterministicChatClient(
    rules=[
        (r"pirate", "Why couldn't the pirate play cards? He was standing on the deck."),
        (r"another|again|more", "Why do pirates make good singers? They hit the high Cs."),
    ],
    default="Why did the scarecrow win an award? He was outstanding in his field.",
)

joker = Agent("Joker", "You are good at telling jokes.", MODEL if MODEL is not None else STAND_IN)
