"""Rendering: DOT and Mermaid text (shapes, labels, barriers, start marker), SVG, run overlays."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from durable_workflows import (
    AgentNode,
    Case,
    Default,
    RequestPort,
    Workflow,
    WorkflowBuilder,
    executor,
)
from durable_workflows.agents import Agent, DeterministicChatClient
from durable_workflows.rendering import (
    NodeRun,
    RenderingError,
    RunOverlay,
    programs,
    render,
    workflow_to_dot,
    workflow_to_mermaid,
    workflow_to_svg,
)
from durable_workflows.rendering.programs import DOT, PURE, Renderer, find_renderer
from durable_workflows.testing import run_in_process


@dataclass
class Expense:
    amount: float


@executor
def submit(expense: Expense) -> Expense:
    return expense


def is_large(expense: Expense) -> bool:
    return expense.amount > 1000


@executor
def auto_approve(expense: Expense) -> bool:
    return True


approval = RequestPort(
    "ManagerApproval", request_type=Expense, response_type=bool, timeout=timedelta(days=7)
)


@executor
def spread(approved: bool) -> bool:
    return approved


@executor
def audit(approved: bool) -> str:
    return "audited"


@executor
def pay(approved: bool) -> str:
    return "paid"


@executor
def report(parts: list[str]) -> str:
    return " and ".join(parts)


def is_audited(text: str) -> bool:
    return "audited" in text


@executor
def archive(text: str) -> str:
    return text


def expense_workflow() -> Workflow:
    return (
        WorkflowBuilder(submit, name="Expense", description="Reimburse an expense")
        .add_switch_case_edge_group(
            submit, [Case(is_large, approval, label="large"), Default(auto_approve)]
        )
        .add_edge(approval, spread)
        .add_edge(auto_approve, spread)
        .add_fan_out_edge(spread, [audit, pay])
        .add_fan_in_barrier_edge([audit, pay], report)
        .add_edge(report, archive, condition=is_audited)
        .build()
    )


@executor
def count(n: int) -> int:
    return n + 1


def below_three(n: int) -> bool:
    return n < 3


def at_least_three(n: int) -> bool:
    return n >= 3


@executor
def finish(n: int) -> int:
    return n


def loop_workflow() -> Workflow:
    return (
        WorkflowBuilder(count, name="Loop")
        .add_edge(count, count, condition=below_three, label="again")
        .add_edge(count, finish, condition=at_least_three)
        .build()
    )


def node_line(dot: str, node_id: str) -> str:
    return next(line for line in dot.splitlines() if line.strip().startswith(f'"{node_id}" ['))


def edge_lines(dot: str, source: str, target: str) -> list[str]:
    return [line for line in dot.splitlines() if f'"{source}" -> "{target}"' in line]


def test_dot_shapes_distinguish_executors_agents_and_ports() -> None:
    agent = Agent("reviewer", "Review it.", DeterministicChatClient(default="ok"))
    ask = RequestPort("Ask", request_type=Expense, response_type=str, timeout=timedelta(hours=2))
    workflow = (
        WorkflowBuilder(submit, name="Shapes")
        .add_edge(submit, ask)
        .add_edge(ask, AgentNode(agent, id="review", session="node"))
        .build()
    )
    dot = workflow_to_dot(workflow)
    assert 'shape="box", style="filled"' in node_line(dot, "submit")
    assert 'style="rounded,filled"' in node_line(dot, "review")
    assert "agent · session: node" in node_line(dot, "review")
    port = node_line(dot, "Ask")
    assert 'shape="cds"' in port
    assert "Expense → str" in port
    assert "timeout 2h" in port


def test_dot_marks_the_start_node() -> None:
    dot = workflow_to_dot(expense_workflow())
    assert 'peripheries="2"' in node_line(dot, "submit")
    assert 'shape="circle"' in node_line(dot, "start:")
    assert edge_lines(dot, "start:", "submit")
    assert 'peripheries="2"' not in node_line(dot, "auto_approve")


def test_dot_labels_switch_cases_and_the_default() -> None:
    dot = workflow_to_dot(expense_workflow())
    assert 'shape="diamond"' in node_line(dot, "switch:g0")
    assert 'arrowhead="none"' in edge_lines(dot, "submit", "switch:g0")[0]
    assert 'label="1. large"' in edge_lines(dot, "switch:g0", "ManagerApproval")[0]
    assert 'label="default"' in edge_lines(dot, "switch:g0", "auto_approve")[0]


def test_dot_draws_fan_out_through_a_fork_and_fan_in_through_a_barrier() -> None:
    dot = workflow_to_dot(expense_workflow())
    assert 'label="fan-out"' in edge_lines(dot, "spread", "fan-out:g3")[0]
    assert edge_lines(dot, "fan-out:g3", "audit") and edge_lines(dot, "fan-out:g3", "pay")
    barrier = node_line(dot, "barrier:g4")
    assert 'label="barrier"' in barrier and 'fillcolor="black"' in barrier
    assert 'label="1"' in edge_lines(dot, "audit", "barrier:g4")[0]
    assert 'label="2"' in edge_lines(dot, "pay", "barrier:g4")[0]
    assert edge_lines(dot, "barrier:g4", "report")
    assert not edge_lines(dot, "audit", "report")


def test_dot_labels_conditional_edges_with_the_condition_name() -> None:
    line = edge_lines(workflow_to_dot(expense_workflow()), "report", "archive")[0]
    assert 'label="is_audited"' in line and 'style="dashed"' in line


def test_dot_draws_back_edges_without_layout_constraint() -> None:
    dot = workflow_to_dot(loop_workflow())
    loop = edge_lines(dot, "count", "count")[0]
    assert 'label="again"' in loop and 'constraint="false"' in loop
    assert "constraint" not in edge_lines(dot, "count", "finish")[0]


def test_output_is_deterministic_and_free_of_addresses() -> None:
    first, second = expense_workflow(), expense_workflow()
    assert workflow_to_dot(first) == workflow_to_dot(second)
    assert workflow_to_mermaid(first) == workflow_to_mermaid(second)
    assert "0x" not in workflow_to_dot(first) + workflow_to_mermaid(first)


def test_dot_escapes_quotes_and_backslashes() -> None:
    workflow = WorkflowBuilder(count, name="Q", description='say "hi" \\ bye').build()
    assert 'label="Q\\nsay \\"hi\\" \\\\ bye"' in workflow_to_dot(workflow)


def test_builders_render_before_build() -> None:
    builder = WorkflowBuilder(submit, name="Draft").add_edge(submit, "missing")
    dot = workflow_to_dot(builder)
    assert "not declared" in node_line(dot, "missing")


def test_mermaid_text() -> None:
    text = workflow_to_mermaid(expense_workflow())
    lines = [line.strip() for line in text.splitlines()]
    assert lines[:2] == ["%% Expense", "flowchart TD"]
    assert 'n0["submit<br/>Expense → Expense"]' in lines
    assert 'n1[/"ManagerApproval<br/>request port · timeout 7d<br/>Expense → bool"/]' in lines
    assert 'switch_g0 -->|"1. large"| n1' in lines
    assert 'switch_g0 -.->|"default"| n2' in lines
    assert 'barrier_g4["barrier"]' in lines
    assert 'n4 -->|"1"| barrier_g4' in lines
    assert 'n3 ---|"fan-out"| fanout_g3' in lines
    assert 'n6 -.->|"is_audited"| n7' in lines
    assert "start --> n0" in lines
    assert "class n0 entry" in lines


def test_overlay_from_events_of_a_waiting_run() -> None:
    workflow = expense_workflow()
    result = run_in_process(workflow, Expense(5000))
    overlay = RunOverlay.from_events(result.events)
    assert overlay.status == "waiting"
    assert overlay.node("submit") == NodeRun("completed", 1)
    assert overlay.node("ManagerApproval") == NodeRun("waiting", 1)
    assert overlay.node("pay") == NodeRun("not-run", 0)
    dot = workflow_to_dot(workflow, overlay=overlay)
    assert "completed \u00d71" in node_line(dot, "submit")
    assert "waiting \u00d71" in node_line(dot, "ManagerApproval")
    assert 'fillcolor="#ffe0b2"' in node_line(dot, "ManagerApproval")
    assert "not run" in node_line(dot, "pay") and "dashed" in node_line(dot, "pay")
    assert "subgraph cluster_legend" in dot
    assert "run 'in-process' waiting" in dot


def test_overlay_counts_repeated_runs_and_failures() -> None:
    result = run_in_process(loop_workflow(), 0)
    overlay = RunOverlay.from_events(result.events)
    assert overlay.status == "completed"
    assert overlay.node("count") == NodeRun("completed", 3)
    assert "completed \u00d73" in node_line(workflow_to_dot(loop_workflow(), overlay=overlay), "count")

    @executor(id="boom")
    def boom(n: int) -> int:
        raise ValueError("no")

    failed = run_in_process(WorkflowBuilder(boom, name="Boom").build(), 1)
    overlay = RunOverlay.from_events(failed.events)
    assert overlay.status == "failed"
    assert overlay.node("boom").status == "failed"


def test_overlay_of_an_answered_request() -> None:
    result = run_in_process(expense_workflow(), Expense(5000), responses=lambda event: True)
    overlay = RunOverlay.from_events(result.events)
    assert overlay.node("ManagerApproval") == NodeRun("completed", 1)
    assert overlay.node("report") == NodeRun("completed", 1)


def strip_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH without any directory holding a `dot` program."""
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    kept = [d for d in dirs if d and not (Path(d) / DOT).exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(kept))


@pytest.fixture(params=[DOT, PURE])
def renderer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Renderer:
    """Each graphviz program in turn: system `dot` (skipped where it is missing), then
    graphviz-pure with `dot` stripped from PATH (the dev extra installs it, so it must be found)."""
    if request.param == PURE:
        strip_dot(monkeypatch)
    found = find_renderer()
    if request.param == DOT and (found is None or found.name != DOT):
        pytest.skip("graphviz `dot` not installed")
    assert found is not None and found.name == request.param, "install the dev extra"
    return found


def test_svg_is_produced(renderer: Renderer, tmp_path: Path) -> None:
    path = render(expense_workflow(), tmp_path / "expense.svg")
    svg = path.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "ManagerApproval" in svg and "barrier" in svg
    assert "<title>ManagerApproval</title>" in svg
    assert workflow_to_svg(expense_workflow()).startswith("<?xml")


def test_svg_of_a_run_has_its_legend(renderer: Renderer) -> None:
    result = run_in_process(expense_workflow(), Expense(5000))
    svg = workflow_to_svg(expense_workflow(), overlay=RunOverlay.from_events(result.events))
    assert "waiting \u00d71" in svg and "legend:completed" in svg


def test_png_is_produced(renderer: Renderer, tmp_path: Path) -> None:
    path = render(expense_workflow(), tmp_path / "expense.png", "png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_pdf_needs_system_graphviz(renderer: Renderer, tmp_path: Path) -> None:
    if renderer.name == DOT:
        path = render(expense_workflow(), tmp_path / "expense.pdf", "pdf")
        assert path.read_bytes().startswith(b"%PDF")
        return
    with pytest.raises(RenderingError) as caught:
        render(expense_workflow(), tmp_path / "expense.pdf", "pdf")
    assert "graphviz-pure" in str(caught.value) and "draws png and svg, not pdf" in str(caught.value)
    assert "apt-get install graphviz" in str(caught.value)


def test_graphviz_pure_is_found_beside_the_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unactivated virtualenv: PATH has neither program, the venv's bin has graphviz-pure."""
    monkeypatch.setenv("PATH", str(tmp_path))
    found = find_renderer()
    assert found is not None and found.name == PURE
    assert workflow_to_svg(expense_workflow()).startswith("<?xml")


def test_notebook_display_needs_no_system_package(monkeypatch: pytest.MonkeyPatch) -> None:
    strip_dot(monkeypatch)
    workflow = expense_workflow()
    svg = workflow._repr_svg_()
    assert svg is not None and svg.startswith("<?xml") and "<title>ManagerApproval</title>" in svg
    assert workflow._repr_html_() is None


def test_text_formats_need_no_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    dot = render(expense_workflow(), tmp_path / "e.dot", "dot").read_text()
    assert dot == workflow_to_dot(expense_workflow())
    mermaid = render(expense_workflow(), tmp_path / "e.mmd", "mermaid").read_text()
    assert mermaid.startswith("%% Expense")


def test_missing_renderer_says_how_to_install_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(programs, "_script_dirs", list)
    assert find_renderer() is None
    with pytest.raises(RenderingError) as caught:
        render(expense_workflow(), tmp_path / "e.svg")
    message = str(caught.value)
    assert "graphviz `dot` was not found on PATH, nor graphviz-pure" in message
    assert "pip install -e '.[render]'" in message
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert "conda" in message
    html = expense_workflow()._repr_html_()
    assert html is not None and html.startswith('<div role="note">')
    assert "pip install -e &#x27;.[render]&#x27;" in html
    svg = expense_workflow()._repr_svg_()
    assert svg is not None and svg.startswith("<svg") and ".[render]" in svg


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderingError, match="unknown diagram format 'gif'"):
        render(expense_workflow(), tmp_path / "e.gif", "gif")  # type: ignore[arg-type]
