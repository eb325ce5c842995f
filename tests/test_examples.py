"""Every example runs as a script on the embedded backend and prints its expected result; the
same workflow run in-process (`run_in_process`) gives the same result."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from durable_workflows.testing import run_in_process

ROOT = Path(__file__).resolve().parent.parent
MODEL_ENV = ("OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT")
"""Unset for these tests, so the agent examples use their deterministic stand-ins."""


@dataclass
class Example:
    name: str
    inputs: Callable[[ModuleType], list[Any]]
    """The inputs `main()` runs, read from the module."""
    expected: list[str]
    """The results of those inputs, in order."""
    responses: Callable[[ModuleType], Any] = field(default=lambda module: None)


EXAMPLES = [
    Example(
        "cancel_order",
        lambda m: [m.INPUT],
        ["Cancellation email sent for order 12345 to jerry@example.com."],
    ),
    Example(
        "expert_review",
        lambda m: [m.QUESTION],
        [
            "Received 2 AI agent responses\n"
            "- Physicist: Ice floats because water expands as it freezes, so ice is less dense.\n"
            "- Chemist: Hydrogen bonds lock water molecules into an open hexagonal lattice."
        ],
    ),
    Example(
        "audit_order",
        lambda m: m.ORDER_IDS,
        [
            "Order 1201 paid: $400.00, reference PAY-1201.",
            "Order 9909 paid (audited): $2,700.00, reference PAY-9909.",
            "Order B1234 flagged as fraudulent: the customer is blocked.",
        ],
    ),
    Example(
        "email_classification",
        lambda m: m.EMAILS,
        [
            "Moved to spam (promises a prize and asks for a click): "
            "'Congratulations, you are a lottery winne'",
            "Draft reply: 'Thanks for your email, I will get back to you.' "
            "(re: 'Hi, could you review the quarterly repor')",
        ],
    ),
    Example(
        "expense_reimbursement",
        lambda m: [m.EXPENSE],
        ["Expense EXP-001 reimbursed: $1,250.00 to Alice."],
        responses=lambda m: m.auto_response,
    ),
    Example(
        "content_approval_workflow",
        lambda m: m.TOPICS,
        [
            "Published 'Tidal Energy': A short article about tidal energy. Revised 1x: "
            "Mention the costs.",
            "Escalated 'Unattended Topic' to the editor-in-chief: no review in time.",
        ],
        responses=lambda m: m.reviewer,
    ),
    Example(
        "draft_review",
        lambda m: [m.TOPIC],
        ["Approved v2 of 'lighthouses': Some words about lighthouses. (Cite a source: done.)"],
        responses=lambda m: m.reviewer,
    ),
    Example(
        "order_fulfilment",
        lambda m: m.ORDERS,
        [
            "Order A-1: paid and shipped with label L-A-1.",
            "Order B-2: paid and shipped with label L-B-2.",
        ],
        responses=lambda m: m.fraud_desk,
    ),
    Example(
        "invoice_reminders",
        lambda m: m.INVOICES,
        [
            "Invoice INV-7 paid after 1 reminder(s).",
            "Invoice INV-8 ($980.50) sent to collections.",
        ],
    ),
]
IDS = [e.name for e in EXAMPLES]


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import examples/<name>.py as a fresh module (without a model configured)."""
    for var in MODEL_ENV:
        monkeypatch.delenv(var, raising=False)
    module_name = f"example_{name}"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, module_name, module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.e2e
@pytest.mark.parametrize("example", EXAMPLES, ids=IDS)
def test_example_script_runs(example: Example) -> None:
    env = {k: v for k, v in os.environ.items() if k not in MODEL_ENV}
    proc = subprocess.run(
        [sys.executable, f"examples/{example.name}.py"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for result in example.expected:
        assert result in proc.stdout


@pytest.mark.parametrize("example", EXAMPLES, ids=IDS)
def test_example_in_process(example: Example, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load(example.name, monkeypatch)
    responses = example.responses(module)
    results = []
    for value in example.inputs(module):
        run = run_in_process(module.workflow, value, responses=responses)
        assert run.status == "completed", run.error
        results.append(run.result)
    assert results == example.expected


def test_expense_demo_prints_one_line_per_event() -> None:
    env = {k: v for k, v in os.environ.items() if k not in MODEL_ENV}
    proc = subprocess.run(
        [sys.executable, "examples/expense_reimbursement.py"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "approved' automatically" in proc.stdout
    lines = proc.stdout.splitlines()
    waiting = [line for line in lines if "waiting_for_input" in line]
    ports = [line.split()[2] for line in waiting]
    assert ports[0] == "ManagerApproval:"
    assert sorted(ports[1:]) == ["BudgetApproval:", "ComplianceApproval:"]
    assert any("workflow_completed" in line for line in lines)
    assert lines[-1] == "Result: Expense EXP-001 reimbursed: $1,250.00 to Alice."
