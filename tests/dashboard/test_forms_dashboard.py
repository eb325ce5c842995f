"""Request forms generated from a port's response schema: enums and literals become selects,
booleans checkboxes, numbers number inputs, nested models fieldsets, lists JSON boxes, optional
fields may stay empty; what the form sends is what the run receives. Also: run counts of a loop,
and a server with an API key, which the page asks for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from durable_workflows.rendering.dot import TIMES

from .conftest import ROOT, Served, screenshot, serve
from .test_expense_dashboard import expect, node

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FLOWS = f"{ROOT / 'tests' / 'dashboard' / 'flows.py'}:workflows"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    running = serve(FLOWS)
    try:
        yield running
    finally:
        running.stop()


def tag(locator: Any) -> str:
    return str(locator.evaluate("e => e.tagName.toLowerCase() + (e.type ? ':' + e.type : '')"))


def test_a_response_form_has_a_control_for_each_field_shape(page: Any, served: Served) -> None:
    page.goto(f"{served.url}/")
    start = page.get_by_role("form", name="Start FormShapes")
    start.get_by_role("textbox", name="Input", exact=True).fill("the quarterly report")
    start.get_by_role("button", name="Start run").click()

    form = page.get_by_role("form", name="Answer Review")
    expect(form.locator("pre.request")).to_have_text('"the quarterly report"')
    assert tag(form.get_by_label("Verdict")) == "select:select-one"
    assert form.get_by_label("Verdict").locator("option").all_text_contents() == ["accept", "reject"]
    assert form.get_by_label("Priority").locator("option").all_text_contents() == ["low", "high"]
    assert tag(form.get_by_label("Urgent")) == "input:checkbox"
    assert tag(form.get_by_label("Score")) == "input:number"
    expect(form.get_by_label("Weight")).to_have_value("1")
    address = form.get_by_role("group", name="Address")
    assert tag(address.get_by_label("City")) == "input:text"
    assert tag(form.get_by_label("Tags")) == "textarea:textarea"
    expect(form.get_by_label("Tags")).to_have_value("[]")

    form.get_by_label("Verdict").select_option("reject")
    form.get_by_label("Priority").select_option("high")
    form.get_by_label("Urgent").check()
    form.get_by_label("Score").fill("7.5")
    address.get_by_label("City").fill("Oslo")
    form.get_by_label("Tags").fill('["finance", "q3"]')
    form.get_by_role("button", name="Send response").click()
    expect(form.get_by_role("alert")).to_contain_text("Score")  # refused before sending
    form.get_by_label("Score").fill("7")
    screenshot(page, "form-shapes")
    form.get_by_role("button", name="Send response").click()

    expect(page.locator("#run-status")).to_have_text("✓ completed")
    result = json.loads(page.locator("#run-result").text_content() or "null")
    assert result == {
        "verdict": "reject",
        "priority": "high",
        "urgent": True,
        "score": 7,
        "weight": 1.0,
        "address": {"city": "Oslo", "zip": None},
        "tags": ["finance", "q3"],
        "note": None,
    }


def test_keyboard_alone_answers_a_request(page: Any, served: Served) -> None:
    page.goto(f"{served.url}/")
    start = page.get_by_role("form", name="Start FormShapes")
    start.get_by_role("textbox", name="Input", exact=True).fill("typed")
    start.get_by_role("button", name="Start run").press("Enter")

    form = page.get_by_role("form", name="Answer Review")
    form.get_by_label("Verdict").focus()
    page.keyboard.press("ArrowDown")  # accept -> reject
    page.keyboard.press("Tab")  # Priority
    page.keyboard.press("Tab")  # Urgent
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # Score
    page.keyboard.type("3")
    page.keyboard.press("Tab")  # Weight
    page.keyboard.press("Tab")  # City
    page.keyboard.type("Bergen")
    form.get_by_role("button", name="Send response").focus()
    page.keyboard.press("Enter")

    expect(page.locator("#run-status")).to_have_text("✓ completed")
    result = json.loads(page.locator("#run-result").text_content() or "null")
    assert (result["verdict"], result["urgent"], result["score"]) == ("reject", True, 3)
    assert result["address"]["city"] == "Bergen"


def test_a_loop_shows_how_often_each_node_ran(page: Any, served: Served) -> None:
    page.goto(f"{served.url}/#/workflows/Countdown")
    start = page.get_by_role("form", name="Start Countdown")
    start.get_by_role("spinbutton", name="Input", exact=True).fill("0")
    start.get_by_role("button", name="Start run").click()

    expect(page.locator("#run-status")).to_have_text("✓ completed")
    expect(page.locator("#run-result")).to_have_text('"counted to 3"')
    expect(node(page, "Count").locator(".badge text")).to_have_text(f"✓ completed {TIMES}3")
    expect(node(page, "Finish").locator(".badge text")).to_have_text(f"✓ completed {TIMES}1")
    carried = page.locator("svg.graph g.edge.carried")
    expect(carried).to_have_count(3)  # start -> Count, Count -> Count, Count -> Finish
    assert page.locator('svg.graph g.edge.carried[data-carried="2"]').count() == 1  # the loop
    screenshot(page, "run-loop")


def test_the_page_asks_for_the_api_key(page: Any) -> None:
    key = "dashboard-key-42"
    running = serve(FLOWS, "--api-key", key)
    try:
        page.goto(f"{running.url}/")
        prompt = page.get_by_label("This server needs its API key:")
        expect(prompt).to_be_visible()
        expect(page.get_by_role("form", name="Start FormShapes")).to_have_count(0)
        prompt.fill(key)
        page.get_by_role("button", name="Use key").click()
        start = page.get_by_role("form", name="Start FormShapes")
        start.get_by_role("textbox", name="Input", exact=True).fill("with a key")
        start.get_by_role("button", name="Start run").click()
        # The run page follows the event stream with the key too.
        expect(node(page, "Review")).to_have_attribute("data-status", "waiting")
        expect(page.locator("#timeline li")).to_have_count(4)
    finally:
        running.stop()
