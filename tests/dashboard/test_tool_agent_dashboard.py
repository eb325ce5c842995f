"""The agents page with a tool-using agent: `serve` as a real process whose model is the local
OpenAI-compatible server, scripted to ask for two tool calls in parallel and then answer with
their results; the conversation shows the calls, their arguments and the tools' results."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply

from .conftest import ROOT, Served, screenshot, serve
from .test_expense_dashboard import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AGENT = f"{ROOT / 'tests' / 'dashboard' / 'tool_agent.py'}:forecaster"


def forecast(body: dict[str, Any]) -> str | ServerReply:
    """Asks get_weather for every city of the question at once, then answers with the results."""
    messages = body["messages"]
    if messages[-1]["role"] == "tool":
        results = [m["content"] for m in messages if m["role"] == "tool"]
        return "Right now: " + "; ".join(results) + "."
    cities = re.findall(r"\b[A-Z][a-z]+\b", messages[-1]["content"])[1:]
    return ServerReply(tool_calls=tuple(("get_weather", {"city": city}) for city in cities))


@pytest.fixture(scope="module")
def model() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(forecast) as server:
        yield server


@pytest.fixture(scope="module")
def served(model: LocalOpenAIServer) -> Iterator[Served]:
    env = {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": model.base_url, "OPENAI_MODEL": "local"}
    running = serve(AGENT, env=env)
    try:
        yield running
    finally:
        running.stop()


def test_the_agents_page_shows_tool_calls_and_their_results(
    page: Any, served: Served, model: LocalOpenAIServer
) -> None:
    page.goto(f"{served.url}/#/agents/Forecaster")
    page.get_by_label("First message of a new thread").fill("What is the weather in Oslo and Lima?")
    page.get_by_role("button", name="Send").click()

    messages = page.locator("#messages li.message")
    expect(messages).to_have_count(5)
    roles = [messages.nth(i).get_attribute("data-role") for i in range(5)]
    assert roles == ["user", "assistant", "tool", "tool", "assistant"]
    calls = messages.nth(1).get_by_role("list", name="Tool calls").get_by_role("listitem")
    expect(calls).to_have_count(2)
    shown = [calls.nth(i).inner_text() for i in range(2)]
    assert [s.split(" ", 2)[1] for s in shown] == ["get_weather", "get_weather"]
    assert [json.loads(s.split(" ", 2)[2]) for s in shown] == [{"city": "Oslo"}, {"city": "Lima"}]
    for index, city in ((2, "Oslo"), (3, "Lima")):
        expect(messages.nth(index).locator(".role")).to_have_text("tool result (get_weather)")
        expect(messages.nth(index)).to_contain_text(f"18 degrees and sunny in {city}")
    expect(messages.nth(4)).to_contain_text(
        "Right now: 18 degrees and sunny in Oslo; 18 degrees and sunny in Lima."
    )
    assert [r.tool_names for r in model.requests] == [["get_weather"]] * 2
    screenshot(page, "agents-tools")
