"""What a notebook shows for a builder, a workflow and a run (IPython's display protocol)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from durable_workflows import DurableWorkflowHost, WorkflowBuilder, executor


@executor
def hello(name: str) -> str:
    return f"hello {name}"


@executor
def orphan(name: str) -> str:
    return name


def test_a_builder_shows_its_graph_and_a_short_repr() -> None:
    builder = WorkflowBuilder(hello, name="Hello").add_node(orphan)  # invalid: orphan unreachable
    assert repr(builder) == (
        "WorkflowBuilder(name='Hello', start='hello', nodes=2, edge_groups=0; not built)"
    )
    svg = builder._repr_svg_()
    if shutil.which("dot") is None:
        assert svg is None  # the notebook falls back to the repr
    else:
        assert svg is not None and "<svg" in svg and "orphan" in svg


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` not installed")
def test_a_workflow_shows_its_graph() -> None:
    svg = WorkflowBuilder(hello, name="Hello").build()._repr_svg_()
    assert svg is not None and "hello" in svg


def test_a_run_shows_its_id_workflow_and_outputs() -> None:
    workflow = WorkflowBuilder(hello, name="Hello").build()

    async def main() -> tuple[str, str]:
        async with DurableWorkflowHost(workflow) as host:
            run = await host.client.stream(workflow, "Ada", run_id="r-1")
            before = repr(run)
            await asyncio.wait_for(run.wait_for_completion(), 30)
            return before, repr(run)

    before, after = asyncio.run(main())
    assert before == "StreamingWorkflowRun(run_id='r-1', workflow='Hello')"
    assert after == "StreamingWorkflowRun(run_id='r-1', workflow='Hello', outputs=1)"
