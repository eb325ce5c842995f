"""Sub-workflows (D8, W1-W5) in process: a built workflow as a node of another."""

from __future__ import annotations

from datetime import timedelta

import pytest

from durable_workflows import (
    Delay,
    ExecutorFailedError,
    RequestPort,
    SubWorkflow,
    WaitingForInputEvent,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowDefinitionError,
    WorkflowValidationError,
    executor,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.testing import InProcessRunner, run_in_process


def doubler(name: str = "Doubler") -> Workflow:
    """int -> yields x*2 and returns x*2+1 (two outputs)."""

    @executor(id="twice")
    def twice(x: int, ctx: WorkflowContext[int, int]) -> int:
        ctx.yield_output(x * 2)
        return x * 2 + 1

    return WorkflowBuilder(twice, name=name).build()


def asking(name: str = "Asking") -> Workflow:
    """int -> port 'ask' (int -> str) -> 'says' returns the answer with the number."""

    @executor(id="prep")
    def prep(x: int) -> int:
        return x

    ask = RequestPort("ask", request_type=int, response_type=str)

    @executor(id="says")
    def says(answer: str) -> str:
        return f"said {answer}"

    return WorkflowBuilder(prep, name=name).add_chain([prep, ask, says]).build()


def failing(name: str = "Failing") -> Workflow:
    @executor(id="boom")
    def boom(x: int) -> int:
        raise ValueError(f"kaput {x}")

    return WorkflowBuilder(boom, name=name).build()


@executor(id="begin")
def begin(x: int) -> int:
    return x


@executor(id="collect")
def collect(x: int | str) -> str:
    return f"got {x}"


def parent(child: Workflow, name: str = "Parent", node_id: str | None = None) -> Workflow:
    sub = SubWorkflow(child, id=node_id)
    return WorkflowBuilder(begin, name=name).add_chain([begin, sub, collect]).build()


def test_the_child_runs_outputs_are_the_nodes_messages() -> None:
    """W1: every output of the child run, in order, goes to the node's successors."""
    result = run_in_process(parent(doubler()), 5)
    assert result.status == "completed", result.error
    assert result.outputs == ["got 10", "got 11"]
    invoked = [(e.executor_id, e.superstep) for e in result.events if e.type == "executor_invoked"]
    assert invoked == [
        ("begin", 1),
        ("Doubler", 2),
        ("Doubler/twice", 1),
        ("collect", 3),
        ("collect", 3),
    ]


def test_child_events_are_in_the_parents_stream_with_their_path() -> None:
    """W3: child events between the node's invoked and completed events, ids prefixed; the
    child's own start and completion are not repeated."""
    result = run_in_process(parent(doubler()), 5)
    rows = [(e.type, getattr(e, "executor_id", "")) for e in result.events]
    start = rows.index(("executor_invoked", "Doubler"))
    end = rows.index(("executor_completed", "Doubler"))
    assert rows[start + 1 : end] == [
        ("executor_invoked", "Doubler/twice"),
        ("workflow_output", "Doubler/twice"),
        ("workflow_output", "Doubler/twice"),
        ("executor_completed", "Doubler/twice"),
    ]
    assert [e.sequence for e in result.events] == list(range(1, len(result.events) + 1))
    assert [e.type for e in result.events].count("workflow_started") == 1
    assert [e.type for e in result.events].count("workflow_completed") == 1


def test_a_workflow_is_a_node_and_types_cross_the_boundary() -> None:
    """D8: a Workflow passed as a node is wrapped (id = its name); its input and output types
    are checked at build time."""
    child = doubler()
    built = WorkflowBuilder(begin, name="Wrapped").add_chain([begin, child, collect]).build()
    node = built.nodes["Doubler"]
    assert isinstance(node, SubWorkflow)
    assert node.input_types == (int,)
    assert node.output_types == (int,)

    @executor(id="text")
    def text(x: int) -> str:
        return "x"

    @executor(id="needs_bytes")
    def needs_bytes(x: bytes) -> str:
        return "never"

    with pytest.raises(WorkflowValidationError) as info:
        WorkflowBuilder(text, name="BadIn").add_chain([text, child, collect]).build()
    assert [i.code for i in info.value.issues] == ["type-mismatch"]
    with pytest.raises(WorkflowValidationError):
        WorkflowBuilder(begin, name="BadOut").add_chain([begin, child, needs_bytes]).build()
    with pytest.raises(WorkflowDefinitionError, match="pass the built workflow"):
        WorkflowBuilder(begin, name="Builder").add_edge(begin, WorkflowBuilder(begin, name="X"))


def test_child_requests_surface_on_the_parent_and_are_answered_through_it() -> None:
    """W4: the child's request is the parent's, with prefixed ids; answered through the
    parent by id or by a named event after the prefixed port."""
    runner = InProcessRunner(parent(asking()))
    waiting = runner.run(3)
    assert waiting.status == "waiting"
    [request] = waiting.pending_requests
    assert (request.request_id, request.port_id, request.request) == (
        "Asking:2:0/ask:2:0",
        "Asking/ask",
        3,
    )
    done = runner.submit_response("Asking:2:0/ask:2:0", "hello")
    assert done.status == "completed", done.error
    assert done.outputs == ["got said hello"]

    again = InProcessRunner(parent(asking()))
    again.run(3)
    assert again.raise_event("Asking/ask", "hi").outputs == ["got said hi"]


def test_the_responder_is_asked_with_prefixed_ids() -> None:
    """W4: in process the responder answers a child's request, seeing the prefixed ids."""
    seen: list[tuple[str, str]] = []

    def respond(event: WaitingForInputEvent) -> str:
        seen.append((event.request_id, event.port_id))
        return "yes"

    result = run_in_process(parent(asking()), 1, responses=respond)
    assert result.outputs == ["got said yes"]
    assert seen == [("Asking:2:0/ask:2:0", "Asking/ask")]


def test_a_failing_child_fails_the_parent_naming_the_path() -> None:
    """W5: the failure names the path of the failing node and carries the child's error."""
    result = run_in_process(parent(failing()), 4)
    assert result.status == "failed"
    assert isinstance(result.error, ExecutorFailedError)
    assert result.error.executor_id == "Failing/boom"
    assert result.error.error == "kaput 4"
    assert result.error.error_type == "ValueError"
    assert result.events[-1].executor_id == "Failing/boom"


def test_three_levels_deep() -> None:
    """W2-W5 nested: paths and invocation keys compose; outputs flow up; requests and
    failures name the whole path."""
    inner = asking("Inner")

    @executor(id="mid_in")
    def mid_in(x: int) -> int:
        return x + 1

    middle = WorkflowBuilder(mid_in, name="Middle").add_chain([mid_in, inner]).build()
    outer = WorkflowBuilder(begin, name="Outer").add_chain([begin, middle]).build()
    top = parent(outer, name="Top")
    runner = InProcessRunner(top)
    waiting = runner.run(1)
    [request] = waiting.pending_requests
    assert request.request_id == "Outer:2:0/Middle:2:0/Inner:2:0/ask:2:0"
    assert request.port_id == "Outer/Middle/Inner/ask"
    assert request.request == 2
    done = runner.submit_response(request.request_id, "deep")
    assert done.outputs == ["got said deep"]

    deep_failure = parent(
        WorkflowBuilder(begin, name="Outer2")
        .add_chain([begin, SubWorkflow(failing(), id="f")])
        .build(),
        name="Top2",
    )
    result = run_in_process(deep_failure, 2)
    assert isinstance(result.error, ExecutorFailedError)
    assert result.error.executor_id == "Outer2/f/boom"


def test_a_delay_inside_a_child_moves_the_clock() -> None:
    """W5/C2: a child's delay runs on the run's clock."""

    @executor(id="after")
    def after(x: int) -> int:
        return x * 10

    wait = Delay("wait", timedelta(hours=3), message_type=int)
    child = WorkflowBuilder(begin, name="Waiting").add_chain([begin, wait, after]).build()
    runner = InProcessRunner(parent(child, name="WaitParent"))
    assert runner.run(2).outputs == ["got 20"]
    assert runner.clock - runner.start == timedelta(hours=3)
    assert runner.trail == [("jump", runner.start + timedelta(hours=3))]


def test_the_child_runs_of_one_superstep_start_when_it_began() -> None:
    """W3/C2: the child runs of one superstep run at the same time (as durably), so two
    3-hour delays in two child runs end the superstep 3 hours later, not 6."""

    @executor(id="after")
    def after(x: int) -> int:
        return x * 10

    wait = Delay("wait", timedelta(hours=3), message_type=int)
    child = WorkflowBuilder(begin, name="Waiting2").add_chain([begin, wait, after]).build()
    left, right = SubWorkflow(child, id="left"), SubWorkflow(child, id="right")
    builder = WorkflowBuilder(begin, name="TwoWaits").add_fan_out_edge(begin, [left, right])
    workflow = builder.add_edge(left, collect).add_edge(right, collect).build()
    runner = InProcessRunner(workflow)
    assert runner.run(2).outputs == ["got 20", "got 20"]
    assert runner.clock - runner.start == timedelta(hours=3)
    assert [when - runner.start for _, when in runner.trail] == [timedelta(hours=3)] * 2


def test_the_childs_graph_is_part_of_the_parents_hash() -> None:
    """B11: changing the child changes the parent's graph hash."""
    one = parent(doubler())
    two = parent(asking(name="Doubler"))
    [node] = [n for n in one.plan.to_dict()["nodes"] if n["id"] == "Doubler"]
    assert node["kind"] == "workflow"
    assert one.graph_hash != two.graph_hash


def test_a_sub_workflow_is_drawn_as_a_cluster() -> None:
    """Rendering: the child's nodes (path ids) in a cluster, entered at its start node and left
    through the sub-workflow's node, which its outputs reach; nested clusters nest."""
    inner = asking("Inner")
    top = parent(WorkflowBuilder(begin, name="Outer").add_chain([begin, inner]).build(), "Top")
    dot = top.to_dot()
    assert '"begin" -> "Outer/begin";' in dot
    assert '"Outer/begin" -> "Outer/Inner/prep";' in dot
    assert '"Outer/Inner/says" -> "Outer/Inner" [style="dotted"' in dot
    assert '"Outer" -> "collect";' in dot
    assert 'subgraph "cluster_Outer" {' in dot
    assert '    subgraph "cluster_Outer/Inner" {' in dot
    assert '"Outer/Inner"; "Outer/Inner/prep"; "Outer/Inner/ask"; "Outer/Inner/says";' in dot
    mermaid = top.to_mermaid()
    assert 'subgraph s0["Outer"]' in mermaid
    assert '        subgraph s1["Inner"]' in mermaid
    renamed = parent(asking(), node_id="review")
    assert 'label="review · workflow Asking"' in renamed.to_dot()
