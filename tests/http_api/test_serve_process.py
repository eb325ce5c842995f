"""`durable-workflows serve` as a real process on a free loopback port, driven over HTTP.

Walks the expense-reimbursement example end to end: run -> status shows the waiting request
with its schema -> a wrong-typed response is 400 -> respond (manager, then budget and
compliance in parallel) -> the SSE stream shows completion -> responding again is 409.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "expense_reimbursement.py"
CLI = [sys.executable, "-m", "durable_workflows.cli"]
EXPENSE = {"expense_id": "EXP-7", "employee": "Alice", "amount": 1250.0, "description": "travel"}


class Served:
    """A running `serve` process and its base URL."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url


def start_serve(*args: str, command: tuple[str, ...] = (*CLI, "serve")) -> Served:
    """Start `serve` with `--port 0` and wait for the URL it prints."""
    process = subprocess.Popen(
        [*command, *args, "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        if match:
            return Served(process, match.group(1))
    stop(process)
    raise AssertionError(f"serve printed no URL: {''.join(lines)}")


def stop(process: subprocess.Popen[str]) -> int:
    """SIGTERM the process by pid and wait for it (SIGKILL after 20 s)."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return process.returncode


@pytest.fixture
def served() -> Iterator[Served]:
    running = start_serve(str(EXAMPLE))
    try:
        yield running
    finally:
        stop(running.process)


def sse_kinds(text: str) -> list[str]:
    return re.findall(r"^event: (\w+)$", text, re.MULTILINE)


def test_expense_reimbursement_end_to_end_over_http(served: Served) -> None:
    base = f"{served.url}/api/workflows/ExpenseReimbursement"
    with httpx.Client(timeout=60) as http:
        assert http.get(f"{served.url}/health").json()["status"] == "ok"

        started = http.post(f"{base}/run?runId=exp-7&wait=30", json=EXPENSE)
        assert started.status_code == 202, started.text
        assert started.json()["status"] == "waiting"

        status = http.get(f"{base}/status/exp-7").json()
        (manager,) = status["pendingRequests"]
        assert manager["portId"] == "ManagerApproval"
        assert manager["request"]["expense_id"] == "EXP-7"
        assert manager["responseSchema"]["title"] == "ApprovalResponse"
        assert set(manager["responseSchema"]["required"]) == {"approved", "approver"}

        respond = f"{base}/respond/exp-7"
        wrong = http.post(
            respond, json={"requestId": manager["requestId"], "response": {"approved": "perhaps"}}
        )
        assert wrong.status_code == 400
        assert wrong.json()["error"]["type"] == "InvalidResponseError"

        yes = {"approved": True, "approver": "Maria", "comment": "fine"}
        answer = {"requestId": manager["requestId"], "response": yes}
        assert http.post(respond, json=answer).status_code == 202

        parallel: list[dict[str, object]] = []
        for _ in range(500):
            parallel = http.get(f"{base}/status/exp-7").json()["pendingRequests"]
            if len(parallel) == 2:
                break
            time.sleep(0.02)
        assert sorted(r["portId"] for r in parallel) == ["BudgetApproval", "ComplianceApproval"]
        for request in parallel:
            body = {
                "requestId": request["requestId"],
                "response": {**yes, "approver": request["portId"]},
            }
            assert http.post(respond, json=body).status_code == 202

        events = http.get(f"{base}/events/exp-7")
        assert events.status_code == 200
        kinds = sse_kinds(events.text)
        assert kinds[0] == "workflow_started" and kinds[-1] == "workflow_completed"
        assert kinds.count("waiting_for_input") == 3 and kinds.count("response_received") == 3
        completed = json.loads(events.text.rstrip().rsplit("data: ", 1)[1])
        assert completed["result"] == "Expense EXP-7 reimbursed: $1,250.00 to Alice."

        again = http.post(respond, json=answer)
        assert again.status_code == 409
        assert again.json()["error"]["type"] == "ConflictError"

        final = http.get(f"{base}/status/exp-7").json()
        assert final["status"] == "completed" and final["result"].startswith("Expense EXP-7")

    assert stop(served.process) == 0
    assert "stopped" in (served.process.stdout.read() if served.process.stdout else "")


def test_serve_refuses_a_public_address_without_a_key() -> None:
    result = subprocess.run(
        [*CLI, "serve", str(EXAMPLE), "--host", "0.0.0.0", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "refusing to serve on '0.0.0.0' without an API key" in result.stderr


def test_the_readme_main_job_serves_the_demo_with_its_dashboard(tmp_path: Path) -> None:
    """`sh scripts/demo.sh` serves the expense workflow and prints where its dashboard is."""
    demo = start_serve("--db", str(tmp_path / "demo.db"), command=("sh", "scripts/demo.sh"))
    try:
        with httpx.Client(timeout=30) as http:
            assert http.get(f"{demo.url}/health").status_code == 200
            page = http.get(f"{demo.url}/")
            workflows = http.get(f"{demo.url}/api/workflows").json()["workflows"]
    finally:
        assert stop(demo.process) == 0
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert [w["name"] for w in workflows] == ["ExpenseReimbursement"]
