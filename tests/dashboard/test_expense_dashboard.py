"""The dashboard in a real browser against `serve` on the expense-reimbursement example: start
a run from the generated form, answer the manager's and both parallel approvals through the
generated forms, watch the graph and the status change without a reload; a denied expense
fails, and the page marks the failing executor and shows the error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from durable_workflows.rendering.dot import TIMES

from .conftest import ROOT, Served, screenshot, serve

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXAMPLE = ROOT / "examples" / "expense_reimbursement.py"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    running = serve(str(EXAMPLE))
    try:
        yield running
    finally:
        running.stop()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def start_run(page: Any, url: str, expense_id: str, amount: str, shot: str = "") -> None:
    page.goto(f"{url}/")
    form = page.get_by_role("form", name="Start ExpenseReimbursement")
    expect(page.locator("svg.graph")).to_be_visible()
    if shot:
        screenshot(page, shot)
    form.get_by_label("Expense Id").fill(expense_id)
    form.get_by_label("Employee").fill("Alice")
    form.get_by_label("Amount").fill(amount)
    form.get_by_label("Description").fill("conference travel")
    form.get_by_role("button", name="Start run").click()
    expect(page.locator("#run-status")).to_be_visible()


def node(page: Any, node_id: str) -> Any:
    return page.locator(f'svg.graph g[data-node="{node_id}"]')


def answer(page: Any, port: str, *, approved: bool, approver: str, send: bool = True) -> Any:
    form = page.get_by_role("form", name=f"Answer {port}")
    box = form.get_by_label("Approved")
    box.check() if approved else box.uncheck()
    form.get_by_label("Approver").fill(approver)
    if send:
        form.get_by_role("button", name="Send response").click()
    return form


def test_a_run_is_answered_through_the_generated_forms(page: Any, served: Served) -> None:
    start_run(page, served.url, "EXP-100", "1250", shot="workflows")
    page.evaluate("window.notReloaded = true")

    manager = node(page, "ManagerApproval")
    expect(manager).to_have_attribute("data-status", "waiting")
    expect(manager.locator(".badge text")).to_have_text(f"✎ waiting for input {TIMES}1")
    expect(node(page, "CreateApprovalRequest")).to_have_attribute("data-status", "completed")
    expect(node(page, "Reimburse")).to_have_attribute("data-status", "not-run")
    expect(page.locator("#run-status")).to_have_text("✎ waiting for input")
    form = page.get_by_role("form", name="Answer ManagerApproval")
    expect(form.locator("pre.request")).to_contain_text("Alice: $1,250.00 for conference travel")
    screenshot(page, "run-waiting")

    # A response of the wrong type is refused by the server and the refusal shows in the form.
    form.get_by_role("button", name="Edit as JSON").click()
    form.get_by_label("Response as JSON").fill('{"approved": "perhaps", "approver": "Maria"}')
    form.get_by_role("button", name="Send response").click()
    refusal = form.get_by_role("alert")
    expect(refusal).to_contain_text("InvalidResponseError")
    expect(refusal).to_contain_text("ManagerApproval")
    expect(manager).to_have_attribute("data-status", "waiting")
    screenshot(page, "run-refused")
    form.get_by_role("button", name="Edit as form").click()

    answer(page, "ManagerApproval", approved=True, approver="Maria")
    for port in ("BudgetApproval", "ComplianceApproval"):
        expect(node(page, port)).to_have_attribute("data-status", "waiting")
    expect(node(page, "ManagerApproval")).to_have_attribute("data-status", "completed")
    expect(page.get_by_role("form", name="Answer ManagerApproval")).to_have_count(0)
    answer(page, "BudgetApproval", approved=True, approver="Budget office", send=False)
    answer(page, "ComplianceApproval", approved=True, approver="Compliance", send=False)
    screenshot(page, "run-parallel")
    for port in ("BudgetApproval", "ComplianceApproval"):
        page.get_by_role("form", name=f"Answer {port}").get_by_role("button", name="Send response").click()

    expect(page.locator("#run-status")).to_have_text("✓ completed")
    expect(page.locator("#run-result")).to_contain_text("Expense EXP-100 reimbursed: $1,250.00 to Alice.")
    for node_id in ("CreateApprovalRequest", "ManagerApproval", "PrepareFinanceReview",
                    "BudgetApproval", "ComplianceApproval", "Reimburse"):
        expect(node(page, node_id)).to_have_attribute("data-status", "completed")
        expect(node(page, node_id).locator(".badge text")).to_have_text(f"✓ completed {TIMES}1")
    # Every edge of this run carried a message: start, chain, fan-out, fan-in.
    edges = page.locator("svg.graph g.edge")
    expect(page.locator("svg.graph g.edge.carried")).to_have_count(edges.count())
    expect(page.locator("#timeline li")).to_have_count(15)
    expect(page.locator("#cancel-run")).to_be_disabled()
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "run-completed")

    page.goto(f"{served.url}/#/runs?status=completed")
    row = page.locator("table.runs tbody tr").first
    expect(row).to_contain_text("ExpenseReimbursement")
    expect(row).to_contain_text("completed")
    screenshot(page, "runs")


def test_a_failed_run_marks_the_failing_executor(page: Any, served: Served) -> None:
    start_run(page, served.url, "EXP-200", "99")
    page.evaluate("window.notReloaded = true")
    answer(page, "ManagerApproval", approved=False, approver="Maria")

    expect(page.locator("#run-status")).to_have_text("✗ failed")
    failing = node(page, "PrepareFinanceReview")
    expect(failing).to_have_attribute("data-status", "failed")
    expect(failing.locator(".badge text")).to_have_text(f"✗ failed {TIMES}1")
    expect(node(page, "BudgetApproval")).to_have_attribute("data-status", "not-run")
    error = page.locator("#run-error")
    expect(error.locator("code.failing")).to_have_text("PrepareFinanceReview")
    expect(error).to_contain_text("ValueError: Expense EXP-200 denied by Maria")
    expect(page.get_by_role("form", name="Answer ManagerApproval")).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "run-failed")

    page.goto(f"{served.url}/#/runs?status=failed")
    expect(page.locator("table.runs tbody tr")).to_have_count(1)
    expect(page.locator("table.runs tbody tr").first).to_contain_text("failed")


def test_a_waiting_run_is_cancelled_from_its_page(page: Any, served: Served) -> None:
    start_run(page, served.url, "EXP-300", "10")
    expect(node(page, "ManagerApproval")).to_have_attribute("data-status", "waiting")
    page.locator("#cancel-run").click()  # the confirmation dialog is accepted by the fixture
    expect(page.locator("#run-status")).to_have_text("■ cancelled")
    expect(page.get_by_role("form", name="Answer ManagerApproval")).to_have_count(0)
    expect(page.locator("#cancel-run")).to_be_disabled()
