"""A worker process hosting the Joker agent, for the worker-restart test.

``python durable_agent_worker.py <backend host:port> <openai base_url>``: prints ``ready`` once
the worker is connected, then serves until stdin closes (or the process is killed).
"""

from __future__ import annotations

import sys

from durable_workflows import DurableWorkflowHost
from durable_workflows.agents import Agent, OpenAIChatClient

JOKER_INSTRUCTIONS = "You are a pirate comedian. Answer with one pirate joke."


def joker(base_url: str) -> Agent:
    """A fresh Joker definition; every process builds its own."""
    client = OpenAIChatClient("local-model", api_key="test", base_url=base_url, max_retries=0)
    return Agent("Joker", JOKER_INSTRUCTIONS, client)


def main() -> None:
    backend, base_url = sys.argv[1], sys.argv[2]
    host = DurableWorkflowHost(agents=[joker(base_url)], connection_string=backend, mode="worker")
    host.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        host.stop()


if __name__ == "__main__":
    main()
