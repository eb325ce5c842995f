"""The host-wide default session time-to-live: agents without their own `session_ttl` use it;
an agent's own TTL (or ``None``, never) wins. Embedded backend, real `openai` client."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest

from durable_workflows import DurableWorkflowHost, DurableWorkflowsError
from durable_workflows.agents import Agent, OpenAIChatClient
from durable_workflows.testing.openai_server import LocalOpenAIServer


def test_the_hosts_default_ttl_applies_to_agents_without_their_own(
    server: LocalOpenAIServer,
) -> None:
    chat = OpenAIChatClient("m", api_key="k", base_url=server.base_url, max_retries=0)
    agents = [
        Agent("Plain", "x", chat),  # session_ttl="default": the host's 1 s
        Agent("Forever", "x", chat, session_ttl=None),
        Agent("Hourly", "x", chat, session_ttl=timedelta(hours=1)),
    ]

    async def main() -> dict[str, int]:
        async with DurableWorkflowHost(
            agents=agents, default_session_ttl=timedelta(seconds=1)
        ) as host:
            threads = {a.name: (await host.agents.get(a.name).run("hi")).thread_id for a in agents}
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if not await host.agents.get("Plain").get_history(threads["Plain"]):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.5)  # past the default TTL for every thread
            return {
                name: len(await host.agents.get(name).get_history(thread))
                for name, thread in threads.items()
            }

    lengths = asyncio.run(asyncio.wait_for(main(), 60))

    assert lengths == {"Plain": 0, "Forever": 2, "Hourly": 2}


@pytest.mark.parametrize("value", [timedelta(0), 60])
def test_a_bad_default_ttl_is_refused(value: Any) -> None:
    with pytest.raises(DurableWorkflowsError, match="default_session_ttl must be a positive"):
        DurableWorkflowHost(default_session_ttl=value)
