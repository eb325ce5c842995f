"""A worker process hosting the tool-using Operator agent, for the kill -9 test.

``python tool_agent_worker.py <backend host:port> <openai base_url> <log file>``: every tool
execution appends a line to the log file; prints ``ready`` once the worker is connected.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from durable_workflows import DurableWorkflowHost
from durable_workflows.agents import Agent, OpenAIChatClient

SLOW_SECONDS = 1.5


def operator(base_url: str, log: Path) -> Agent:
    """The Operator agent: `record` is quick, `slow` takes `SLOW_SECONDS`."""

    def record(step: str) -> str:
        """Record a step."""
        with log.open("a") as f:
            f.write(f"record {step}\n")
        return f"recorded {step}"

    def slow(step: str) -> str:
        """A long-running step."""
        with log.open("a") as f:
            f.write(f"slow-start {step}\n")
        time.sleep(SLOW_SECONDS)
        with log.open("a") as f:
            f.write(f"slow-end {step}\n")
        return f"slow {step} done"

    client = OpenAIChatClient("local-model", api_key="test", base_url=base_url, max_retries=0)
    return Agent("Operator", "Operator.", client, tools=[record, slow])


def main() -> None:
    backend, base_url, log = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    agent = operator(base_url, log)
    host = DurableWorkflowHost(agents=[agent], connection_string=backend, mode="worker")
    host.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        host.stop()


if __name__ == "__main__":
    main()
