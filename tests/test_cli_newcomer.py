"""The command line as a newcomer meets it: prompts, bare strings, import errors, help texts."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from durable_workflows.hosting.connection import ENV_VAR

FLOWS = """
from pydantic import BaseModel
from durable_workflows import RequestPort, WorkflowBuilder, executor


class ApprovalResponse(BaseModel):
    approved: bool
    approver: str
    comment: str = ""


@executor
def lookup(order_id: str) -> str:
    return f"order {order_id}"


approval = RequestPort("Approval", request_type=str, response_type=ApprovalResponse)
note = RequestPort("Note", request_type=str, response_type=str)


@executor
def decide(answer: ApprovalResponse) -> str:
    return f"approved by {answer.approver}" if answer.approved else "denied"


@executor
def echo(text: str) -> str:
    return f"noted: {text}"


workflow = WorkflowBuilder(lookup, name="Lookup").build()
approve = WorkflowBuilder(lookup, name="Approve").add_chain([lookup, approval, decide]).build()
noting = WorkflowBuilder(lookup, name="Noting").add_chain([lookup, note, echo]).build()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flows.py").write_text(textwrap.dedent(FLOWS))
    (tmp_path / "broken_syntax.py").write_text("import json\n\ndef f(:\n    pass\n")
    (tmp_path / "helper.py").write_text("x = 1\nraise RuntimeError('boom at import')\n")
    (tmp_path / "uses_helper.py").write_text("import helper\n")
    return tmp_path


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "durable_workflows.cli", *args]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    return subprocess.run(
        command(*args), cwd=cwd, env=env, input="",
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_bare_string_input_is_taken_where_the_workflow_takes_a_string(project: Path) -> None:
    for text in ("B-7", '"B-7"'):
        done = cli("run", "flows", "--input", text, cwd=project)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1].endswith('completed: "order B-7"')
    number = cli("run", "flows", "--input", "42", cwd=project)
    assert number.stdout.splitlines()[-1].endswith('completed: "order 42"')


def test_a_bare_string_response_is_taken_where_the_port_takes_a_string(project: Path) -> None:
    done = cli("run", "flows:noting", "--input", "A", "--responses", '{"Note": "fine"}',
               cwd=project)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith('completed: "noted: fine"')


def _interact(cwd: Path, args: list[str], answers: list[str], timeout: float = 60) -> str:
    """Run the command on a pseudo-terminal, typing each answer after each prompt."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    process = subprocess.Popen(
        command(*args), cwd=cwd, env=env, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    seen = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the command exited and closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
                if pending and seen.rstrip().endswith(b">"):
                    os.write(leader, pending.pop(0).encode() + b"\n")
            elif process.poll() is not None:
                break
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    return seen.decode(errors="replace").replace("\r\n", "\n")


def test_the_prompt_shows_the_response_fields_and_explains_refusals(project: Path) -> None:
    screen = _interact(
        project,
        ["run", "flows:approve", "--input", "A-1"],
        ["yes", '{"approved": true, "approver": "Ada"}'],
    )
    prompt = (
        'response to Approval (ApprovalResponse: {"approved": true | false, "approver": string, '
        '"comment"?: string})>'
    )
    assert screen.count(prompt) == 2, screen
    assert "refused: the response is not valid JSON" in screen
    assert screen.rstrip().endswith('completed: "approved by Ada"'), screen


def test_import_errors_show_the_targets_frames_only(project: Path) -> None:
    syntax = cli("validate", "broken_syntax.py", cwd=project)
    assert syntax.returncode == 1
    assert syntax.stderr.startswith("error: importing broken_syntax.py failed:\n")
    assert 'broken_syntax.py", line 3' in syntax.stderr and "SyntaxError" in syntax.stderr
    nested = cli("render", "uses_helper", "-f", "dot", cwd=project)
    assert nested.returncode == 1
    assert 'uses_helper.py", line 1' in nested.stderr and 'helper.py", line 2' in nested.stderr
    assert "RuntimeError: boom at import" in nested.stderr
    for text in (syntax.stderr, nested.stderr):
        assert "durable_workflows" not in text and "importlib" not in text


def test_validate_counts_in_english(project: Path) -> None:
    done = cli("validate", "flows", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "is valid: 1 node (1 executor), 0 edge groups (none)" in done.stdout
    chain = cli("validate", "flows:noting", cwd=project)
    assert "3 nodes (2 executors, 1 request port), 2 edge groups (2 single)" in chain.stdout
    single = (project / "single.py")
    single.write_text(textwrap.dedent(FLOWS) + "\nworkflow = WorkflowBuilder(lookup, name='S')"
                      ".add_edge(lookup, echo).build()\n")  # fmt: skip
    assert "1 edge group (1 single)" in cli("validate", "single", cwd=project).stdout


def test_the_sidecar_help_states_its_default_port(project: Path) -> None:
    done = cli("sidecar", "--help", cwd=project)
    assert done.returncode == 0
    assert "port to listen on (default: 4001" in " ".join(done.stdout.split())
