"""The `durable-workflows` command, run as a process the way a shell or CI would run it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from durable_workflows.hosting.connection import ENV_VAR
from durable_workflows.rendering.programs import find_renderer

GOOD = """
from dataclasses import dataclass
from durable_workflows import RequestPort, WorkflowBuilder, executor


@dataclass
class Order:
    item: str
    quantity: int


@executor
def price(order: Order) -> float:
    return 2.5 * order.quantity


@executor
def receipt(total: float) -> str:
    return f"total {total:.2f}"


approval = RequestPort("Approval", request_type=float, response_type=bool)


@executor
def decide(approved: bool) -> str:
    return "approved" if approved else "rejected"


@executor
def explode(order: Order) -> str:
    raise ValueError(f"no stock for {order.item}")


workflow = WorkflowBuilder(price, name="Pricing").add_edge(price, receipt).build()


def build_workflow():
    return WorkflowBuilder(price, name="Approve").add_chain([price, approval, decide])


failing = WorkflowBuilder(explode, name="Failing").build()
"""

BROKEN = """
from durable_workflows import Case, Default, WorkflowBuilder, executor


@executor
def start(text: str) -> str:
    return text


@executor
def count(number: int) -> int:
    return number


@executor
def orphan(text: str) -> str:
    return text


def is_long(text: str) -> bool:
    return len(text) > 3


builder = (
    WorkflowBuilder(start, name="Broken")
    .add_edge(start, count)
    .add_node(orphan)
    .add_switch_case_edge_group(start, [Default(count), Case(is_long, count)])
)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "good_flows.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "broken_flows.py").write_text(textwrap.dedent(BROKEN))
    (tmp_path / "broken_at_import.py").write_text(
        textwrap.dedent(BROKEN) + "\nworkflow = builder.build()\n"
    )
    return tmp_path


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "durable_workflows.cli", *args]


def cli(
    *args: str, cwd: Path, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    return subprocess.run(
        command(*args),
        cwd=cwd,
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_validate_prints_every_problem_and_exits_1(project: Path) -> None:
    done = cli("validate", "broken_flows.py:builder", cwd=project)
    assert done.returncode == 1, done.stderr
    assert "Workflow 'Broken' is invalid" in done.stdout
    for code in ("type-mismatch", "unreachable", "switch"):
        assert code in done.stdout
    assert "orphan" in done.stdout and "count" in done.stdout
    assert len(re.findall(r"^  - \[", done.stdout, re.MULTILINE)) >= 3


def test_validate_reports_problems_raised_at_import(project: Path) -> None:
    from_builder = cli("validate", "broken_flows.py:builder", cwd=project)
    at_import = cli("validate", "broken_at_import", cwd=project)
    assert at_import.returncode == 1
    assert at_import.stdout == from_builder.stdout


def test_validate_summarises_a_valid_workflow(project: Path) -> None:
    done = cli("validate", "good_flows", cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Workflow 'Pricing' is valid: 2 nodes (2 executors)")
    assert "start 'price'" in done.stdout and "graph hash" in done.stdout
    built = cli("validate", "good_flows.py:build_workflow", cwd=project)
    assert "Workflow 'Approve' is valid" in built.stdout
    assert "1 request port" in built.stdout


def test_bad_targets_are_usage_errors(project: Path) -> None:
    missing = cli("validate", "no_such_module", cwd=project)
    assert missing.returncode == 2
    assert "no module named 'no_such_module'" in missing.stderr
    attribute = cli("render", "good_flows:nothing", "-f", "dot", cwd=project)
    assert attribute.returncode == 2
    assert "'good_flows' has no attribute 'nothing'" in attribute.stderr
    wrong_type = cli("validate", "good_flows:Order", cwd=project)
    assert wrong_type.returncode == 2
    assert "not a Workflow or WorkflowBuilder" in wrong_type.stderr
    assert cli(cwd=project).returncode == 2
    assert cli("render", cwd=project).returncode == 2


@pytest.mark.skipif(find_renderer() is None, reason="no graphviz program (dot or graphviz-pure)")
def test_render_writes_an_svg(project: Path) -> None:
    done = cli("render", "good_flows:build_workflow", "-o", "approve.svg", cwd=project)
    assert done.returncode == 0, done.stderr
    svg = (project / "approve.svg").read_text()
    assert "<svg" in svg and "Approval" in svg and "decide" in svg


def test_render_prints_text_formats(project: Path) -> None:
    dot = cli("render", "good_flows", "-f", "dot", cwd=project)
    assert dot.returncode == 0
    assert dot.stdout.startswith('digraph "Pricing" {')
    mermaid = cli("render", "good_flows.py", "--format", "mermaid", cwd=project)
    assert "flowchart TD" in mermaid.stdout
    written = cli("render", "good_flows", "-o", "flow.mmd", cwd=project)
    assert written.returncode == 0
    assert (project / "flow.mmd").read_text() == mermaid.stdout
    binary = cli("render", "good_flows", "-f", "png", cwd=project)
    assert binary.returncode == 2 and "-o PATH" in binary.stderr


def test_render_draws_invalid_builders(project: Path) -> None:
    done = cli("render", "broken_flows:builder", "-f", "dot", cwd=project)
    assert done.returncode == 0
    assert '"orphan"' in done.stdout


def test_run_prints_the_event_stream(project: Path) -> None:
    done = cli("run", "good_flows", "--input", '{"item": "tea", "quantity": 4}', cwd=project)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("[   1] started Pricing")
    assert any("> price" in line for line in lines)
    assert any("ok receipt" in line for line in lines)
    assert lines[-1].endswith('completed: "total 10.00"')


def test_run_answers_requests_from_responses(project: Path) -> None:
    done = cli(
        "run",
        "good_flows:build_workflow",
        "--input",
        '{"item": "tea", "quantity": 1}',
        "--responses",
        '{"Approval": true}',
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    assert "waiting for input on Approval" in done.stdout
    assert done.stdout.splitlines()[-1].endswith('completed: "approved"')


def test_run_without_answers_off_a_terminal_exits_1(project: Path) -> None:
    done = cli(
        "run", "good_flows:build_workflow", "--input", '{"item": "a", "quantity": 1}', cwd=project
    )
    assert done.returncode == 1
    assert "waits for input on port 'Approval'" in done.stderr
    assert "--responses" in done.stderr


def test_run_refuses_a_wrong_response(project: Path) -> None:
    done = cli(
        "run",
        "good_flows:build_workflow",
        "--input",
        '{"item": "a", "quantity": 1}',
        "--responses",
        '[{"not": "a bool"}]',
        cwd=project,
    )
    assert done.returncode == 1
    assert "refused" in done.stderr and "Approval" in done.stderr


def test_run_failure_exits_1(project: Path) -> None:
    done = cli("run", "good_flows:failing", "--input", '{"item": "x", "quantity": 1}', cwd=project)
    assert done.returncode == 1
    assert "no stock for x" in done.stdout


def test_run_json_lines(project: Path) -> None:
    done = cli(
        "run", "good_flows", "--json", "--input", '{"item": "x", "quantity": 2}', cwd=project
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "workflow_started"
    assert events[-1]["type"] == "workflow_completed"


def test_bad_json_input_is_a_usage_error(project: Path) -> None:
    done = cli("run", "good_flows", "--input", "{oops", cwd=project)
    assert done.returncode == 2
    assert "--input is not valid JSON" in done.stderr


def test_commands_against_a_task_hub_need_a_connection_string(project: Path) -> None:
    for args in (["status", "r1"], ["respond", "r1", "q", "true", "-w", "good_flows"]):
        done = cli(*args, cwd=project)
        assert done.returncode == 2
        assert "--connection-string is required" in done.stderr


def test_sidecar_delegates_its_arguments(project: Path) -> None:
    done = cli("sidecar", "--help", cwd=project)
    assert done.returncode == 0
    assert "--db" in done.stdout


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[str]:
    process = subprocess.Popen(
        command(
            "sidecar", "--db", str(tmp_path / "hub.db"), "--port", "0", "--log-level", "WARNING"
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    address = re.search(r"listening on (\S+)", line)
    assert address, line
    try:
        yield address.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.e2e
def test_worker_status_and_respond_against_a_sidecar(project: Path, sidecar: str) -> None:
    worker = subprocess.Popen(
        command(
            "worker", "good_flows:build_workflow", "good_flows:failing", "--connection-string", sidecar
        ),
        cwd=project,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        assert "worker serving Approve, Failing" in worker.stdout.readline()
        args = ["--connection-string", sidecar]
        started = cli(
            "run", "good_flows:build_workflow", "--run-id", "order-1", *args, "--input",
            '{"item": "tea", "quantity": 2}', cwd=project,
        )  # fmt: skip
        assert started.returncode == 1  # left waiting: nobody answered
        assert "respond order-1 Approval:" in started.stderr
        request_id = re.search(r"request (Approval:\S+),", started.stdout)
        assert request_id

        status = cli("status", "order-1", *args, "-w", "good_flows:build_workflow", cwd=project)
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert lines[0].startswith("run order-1 of Approve: waiting for input (1 request; ")
        assert lines[1] == f"  request {request_id.group(1)} on port Approval: 5.0"
        assert lines[2] == "    expects true | false"
        assert lines[3] == (
            f"    answer: durable-workflows respond order-1 {request_id.group(1)} JSON "
            "-w good_flows:build_workflow"
        )
        raw = cli("status", "order-1", *args, cwd=project)
        assert raw.stdout.startswith("run order-1 of Approve: waiting for input")
        assert "-w TARGET also shows the response each request expects" in raw.stdout
        assert "dw." not in raw.stdout + status.stdout  # no internal names

        wrong = cli("respond", "order-1", "nope", "true", *args, "-w", "good_flows:build_workflow",
                    cwd=project)  # fmt: skip
        assert wrong.returncode == 1 and "no pending request 'nope'" in wrong.stderr
        bare = cli("respond", "order-1", request_id.group(1), "yes", *args,
                   "-w", "good_flows:build_workflow", cwd=project)  # fmt: skip
        assert bare.returncode == 2
        assert "the response is not valid JSON" in bare.stderr
        assert "nor a valid bool: 'yes'; give it as JSON: true | false" in bare.stderr
        answered = cli("respond", "order-1", request_id.group(1), "false", *args,
                       "-w", "good_flows:build_workflow", cwd=project)  # fmt: skip
        assert answered.returncode == 0, answered.stderr

        deadline = time.monotonic() + 60
        while "completed" not in (final := cli("status", "order-1", *args, cwd=project)).stdout:
            assert time.monotonic() < deadline, final.stdout
            time.sleep(0.2)
        assert final.stderr == ""
        assert final.stdout.startswith("run order-1 of Approve: completed (updated ")
        assert final.stdout.splitlines()[1] == '  result: "rejected"'

        failed = cli("run", "good_flows:failing", "--run-id", "fail-1", *args, "--input",
                     '{"item": "tea", "quantity": 2}', cwd=project)  # fmt: skip
        assert failed.returncode == 1
        status = cli("status", "fail-1", *args, cwd=project)
        assert status.stdout.startswith("run fail-1 of Failing: failed in executor 'explode' (")
        assert status.stdout.splitlines()[1] == "  error: ValueError: no stock for tea"
        missing = cli("status", "no-such-run", *args, cwd=project)
        assert missing.returncode == 1 and "no run with id 'no-such-run'" in missing.stderr
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=60)
    assert worker.returncode == 0
