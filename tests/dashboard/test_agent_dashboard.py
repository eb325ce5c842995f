"""The dashboard with an agent workflow and a hosted agent, against `serve` as a real process
whose model is the local OpenAI-compatible server (durable_workflows.testing.openai_server)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from durable_workflows.testing.openai_server import LocalOpenAIServer

from .conftest import ROOT, Served, screenshot, serve
from .test_expense_dashboard import expect, node

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXAMPLE = str(ROOT / "examples" / "email_classification.py")
SPAM = "Congratulations, you are a lottery winner! Click here to claim your prize."


def classify(request: dict[str, Any]) -> str | Mapping[str, Any]:
    """A model that calls prizes spam, and otherwise answers in words."""
    said = [m.get("content", "") for m in request.get("messages", []) if m.get("role") == "user"]
    last = said[-1] if said else ""
    if (request.get("response_format") or {}).get("type") == "json_schema":
        spam = "prize" in last.lower()
        return {"is_spam": spam, "reason": "promises a prize" if spam else "a plain request"}
    return f"You said: {last}"


@pytest.fixture(scope="module")
def model() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer(classify) as server:
        yield server


@pytest.fixture(scope="module")
def served(model: LocalOpenAIServer) -> Iterator[Served]:
    env = {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": model.base_url, "OPENAI_MODEL": "local"}
    running = serve(EXAMPLE, env=env)  # the workflow's agent is hosted (and listed) too
    try:
        yield running
    finally:
        running.stop()


def test_an_agent_workflow_run_is_drawn(page: Any, served: Served, model: LocalOpenAIServer) -> None:
    page.goto(f"{served.url}/#/workflows/EmailClassification")
    form = page.get_by_role("form", name="Start EmailClassification")
    form.get_by_role("textbox", name="Input", exact=True).fill(SPAM)
    form.get_by_role("button", name="Start run").click()

    expect(page.locator("#run-status")).to_have_text("✓ completed")
    expect(page.locator("#run-result")).to_contain_text("Moved to spam (promises a prize)")
    expect(node(page, "Classifier")).to_have_attribute("data-status", "completed")
    expect(node(page, "HandleSpam")).to_have_attribute("data-status", "completed")
    expect(node(page, "DraftReply")).to_have_attribute("data-status", "not-run")
    carried = page.locator("svg.graph g.edge.carried title")
    titles = [t.replace("\u2010", "-") for t in carried.all_text_contents()]
    assert "switch:g1->HandleSpam" in titles and "switch:g1->DraftReply" not in titles
    assert any(r.json_schema is not None for r in model.requests)
    screenshot(page, "agent-run")


def test_the_agents_page_holds_a_conversation(page: Any, served: Served) -> None:
    page.goto(f"{served.url}/#/agents")
    expect(page.get_by_role("navigation", name="Agents").get_by_role("link", name="Classifier")).to_be_visible()
    page.get_by_label("First message of a new thread").fill("Is a prize draw spam?")
    page.get_by_role("button", name="Send").click()

    messages = page.locator("#messages li.message")
    expect(messages).to_have_count(2)
    expect(messages.nth(0)).to_have_attribute("data-role", "user")
    expect(messages.nth(0)).to_contain_text("Is a prize draw spam?")
    expect(messages.nth(1)).to_have_attribute("data-role", "assistant")
    expect(messages.nth(1)).to_contain_text("promises a prize")

    page.get_by_label("Next message").fill("And a meeting invitation?")
    page.get_by_role("button", name="Send").click()
    expect(messages).to_have_count(4)
    expect(messages.nth(3)).to_contain_text("a plain request")
    expect(page.locator('.thread-list a[aria-current="page"]')).to_have_count(1)
    screenshot(page, "agents")
