"""Ctrl-C at the demo's approval prompt exits at once, keeps the run, and says how to resume
(issue 10). A real process on a pseudo-terminal, a real SIGINT, a real resume on the file."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "expense_reimbursement.py"
PROMPT = "ManagerApproval: approve"


def _read_until(fd: int, needle: str, timeout: float) -> str:
    """What the process wrote on the terminal, up to and including `needle`."""
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {needle!r} within {timeout} s; got:\n{seen}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 4096).decode(errors="replace")
            except OSError:  # the process closed the terminal
                break
    return seen


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_ctrl_c_at_the_approval_prompt_exits_and_the_run_resumes(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY",)}
    proc = subprocess.Popen(
        [sys.executable, str(DEMO), "--database", str(db)],
        cwd=ROOT,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    try:
        _read_until(master, PROMPT, timeout=60)
        time.sleep(0.2)  # sitting at the prompt
        interrupted_at = time.monotonic()
        proc.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
        code = proc.wait(timeout=15)
        exit_seconds = time.monotonic() - interrupted_at
        output = _read_until(master, "--resume", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert code == 130, output
    assert exit_seconds < 10, exit_seconds
    match = re.search(r"--resume (\w+)", output)
    assert match, output
    assert str(db) in output

    resumed = subprocess.run(
        [sys.executable, str(DEMO), "--database", str(db), "--resume", match.group(1)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[-1] == (
        "Result: Expense EXP-001 reimbursed: $1,250.00 to Alice."
    )
    answered = [line for line in resumed.stdout.splitlines() if "response_received" in line]
    assert len(answered) == 3  # the manager's (answered now), then budget and compliance


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_ctrl_c_at_the_cli_prompt_exits_at_once(tmp_path: Path) -> None:
    """`durable-workflows run` prompts for a response the same way; Ctrl-C ends it (exit 130)."""
    expense = '{"expense_id": "E-1", "employee": "Bo", "amount": 5, "description": "pens"}'
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "durable_workflows.cli", "run", f"{DEMO}:workflow",
         "--input", expense],
        cwd=tmp_path,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )  # fmt: skip
    os.close(slave)
    try:
        _read_until(master, "\"comment\"?: string})>", timeout=60)  # the prompt
        time.sleep(0.2)
        interrupted_at = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=15)
        exit_seconds = time.monotonic() - interrupted_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert code == 130
    assert exit_seconds < 10
