"""Timeout routes (P8, P9, B13) and the in-process virtual clock (C1)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel

from durable_workflows import (
    InvalidResponseError,
    RequestPort,
    RequestTimedOut,
    RequestTimedOutEvent,
    RequestTimeoutError,
    WorkflowBuilder,
    WorkflowValidationError,
    executor,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.runtime.engine import Engine
from durable_workflows.runtime.wire import decode_state, encode_state
from durable_workflows.testing import NO_RESPONSE, InProcessRunner, run_in_process


class Draft(BaseModel):
    title: str


@executor(id="write")
def write(title: str) -> Draft:
    return Draft(title=title)


@executor(id="publish")
def publish(ok: bool) -> str:
    return f"published={ok}"


@executor(id="escalate")
def escalate(timed_out: RequestTimedOut[Draft]) -> str:
    return (
        f"escalated {timed_out.request.title!r} ({timed_out.request_id} at "
        f"{timed_out.port_id}, waited {timed_out.waited})"
    )


def review_workflow(*, timeout_edge: bool = True, name: str = "Review") -> Workflow:
    review = RequestPort(
        "review", request_type=Draft, response_type=bool, timeout=timedelta(hours=2)
    )
    builder = WorkflowBuilder(write, name=name).add_chain([write, review, publish])
    if timeout_edge:
        builder.add_timeout_edge(review, escalate)
    return builder.build()


def silent(event: Any) -> Any:
    return NO_RESPONSE


def test_timeout_edge_delivers_request_timed_out() -> None:
    """P8: the timeout edge's target gets RequestTimedOut(request_id, port_id, request, waited);
    a RequestTimedOutEvent records it; the port's normal edges see nothing."""
    result = run_in_process(review_workflow(), "Hello", responses=silent)
    assert result.status == "completed", result.error
    assert result.outputs == ["escalated 'Hello' (review:2:0 at review, waited 2:00:00)"]
    timed_out = [e for e in result.events if isinstance(e, RequestTimedOutEvent)]
    assert [(e.request_id, e.port_id, e.waited_seconds) for e in timed_out] == [
        ("review:2:0", "review", 7200.0)
    ]
    invoked = [e.executor_id for e in result.events if e.type == "executor_invoked"]
    assert invoked == ["write", "escalate"]


def test_a_response_before_the_deadline_wins() -> None:
    """P8: an answered request never times out; the timeout target does not run."""
    result = run_in_process(review_workflow(), "Hello", responses=lambda e: True)
    assert result.outputs == ["published=True"]
    assert not any(isinstance(e, RequestTimedOutEvent) for e in result.events)


def test_without_a_timeout_edge_the_run_fails_naming_request_and_port() -> None:
    """P8: no timeout edge -> RequestTimeoutError naming the request and the port."""
    result = run_in_process(review_workflow(timeout_edge=False), "Hello", responses=silent)
    assert result.status == "failed"
    assert isinstance(result.error, RequestTimeoutError)
    assert "'review:2:0'" in str(result.error)
    assert "'review'" in str(result.error)
    assert "add a timeout edge" in str(result.error)


def test_without_a_responder_the_clock_does_not_move_for_requests() -> None:
    """C1, P5: without a responder the run stops waiting; nothing times out."""
    result = run_in_process(review_workflow(), "Hello")
    assert result.status == "waiting"
    assert [r.request_id for r in result.pending_requests] == ["review:2:0"]


def test_the_virtual_clock_dates_deadlines_from_its_start() -> None:
    """C1: the clock starts at `start` and jumps to the deadline when nobody answers."""
    start = datetime(2030, 5, 1, 12, 0, tzinfo=timezone.utc)
    runner = InProcessRunner(review_workflow(), silent, start=start)
    assert runner.run("Hello").status == "completed"
    assert runner.clock == start + timedelta(hours=2)


def test_late_response_is_refused_clearly() -> None:
    """P9: a response to a timed-out request is refused, saying it timed out."""
    workflow = review_workflow()
    engine = Engine(workflow)
    state = engine.start("Hello")
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    runner = InProcessRunner(workflow)
    while (step := engine.begin_superstep(state, now)) is not None:
        engine.finish_superstep(state, step, runner.execute(state, step))
    request = state.requests["review:2:0"]
    assert request.deadline == now + timedelta(hours=2)
    assert engine.fire_due(state, now + timedelta(hours=1, minutes=59)) == []
    events = engine.fire_due(state, now + timedelta(hours=2))
    assert [e.type for e in events] == ["request_timed_out"]
    with pytest.raises(InvalidResponseError, match=r"'review:2:0' timed out after 2:00:00"):
        engine.submit_response(state, "review:2:0", True)


def test_runner_refuses_a_late_response_after_the_run_moved_on() -> None:
    """P9 in process: the waiting run is answered only after the request timed out."""
    port2 = RequestPort("second", request_type=str, response_type=str)

    @executor(id="first")
    def first(x: str) -> str:
        return x

    @executor(id="late_escalate")
    def late_escalate(t: RequestTimedOut[str]) -> str:
        return f"late {t.request}"

    quick = RequestPort("quick", request_type=str, response_type=str, timeout=timedelta(1))
    wf = (
        WorkflowBuilder(first, name="Late")
        .add_fan_out_edge(first, [quick, port2])
        .add_timeout_edge(quick, late_escalate)
        .build()
    )
    runner = InProcessRunner(wf, silent)
    result = runner.run("x")
    # "second" has no deadline, so the run waits for it after "quick" timed out
    assert result.status == "waiting"
    assert [r.request_id for r in result.pending_requests] == ["second:2:0"]
    with pytest.raises(InvalidResponseError, match="timed out"):
        runner.submit_response("quick:2:0", "too late")
    done = runner.submit_response("second:2:0", "fine")
    assert done.status == "completed"
    assert done.outputs == ["late x", "fine"]


def test_timeouts_fire_in_deadline_order_then_creation_order() -> None:
    """P8: timeouts noticed in one wake are delivered by deadline, then creation order."""

    @executor(id="start")
    def start(x: int) -> int:
        return x

    slow = RequestPort("slow", request_type=int, response_type=int, timeout=timedelta(hours=2))
    fast_a = RequestPort("fast_a", request_type=int, response_type=int, timeout=timedelta(hours=1))
    fast_b = RequestPort("fast_b", request_type=int, response_type=int, timeout=timedelta(hours=1))

    @executor(id="sink")
    def sink(t: RequestTimedOut[int]) -> str:
        return t.port_id

    wf = (
        WorkflowBuilder(start, name="Order")
        .add_fan_out_edge(start, [slow, fast_b, fast_a])
        .add_timeout_edge(slow, sink)
        .add_timeout_edge(fast_a, sink)
        .add_timeout_edge(fast_b, sink)
        .build()
    )
    result = run_in_process(wf, 1, responses=silent)
    assert result.status == "completed", result.error
    # fast_b was created before fast_a (fan-out order and graph position), slow fires later
    assert result.outputs == ["fast_b", "fast_a", "slow"]


def test_untyped_port_delivers_a_bare_request_timed_out() -> None:
    """P8: a port without a request type delivers `RequestTimedOut` (request as JSON)."""

    @executor(id="begin")
    def begin(x: int) -> dict[str, int]:
        return {"n": x}

    port = RequestPort("any_port", timeout=timedelta(minutes=5))

    @executor(id="handle")
    def handle(t: RequestTimedOut) -> int:
        return int(t.request["n"]) + int(t.waited.total_seconds())

    wf = (
        WorkflowBuilder(begin, name="Bare")
        .add_edge(begin, port)
        .add_timeout_edge(port, handle)
        .build()
    )
    assert run_in_process(wf, 1, responses=silent).outputs == [301]


def test_state_round_trip_keeps_deadlines_and_timeouts() -> None:
    """J5: deadlines and remembered timeouts survive `encode_state`/`decode_state`."""
    workflow = review_workflow()
    engine = Engine(workflow)
    state = engine.start("Hello")
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    runner = InProcessRunner(workflow)
    while (step := engine.begin_superstep(state, now)) is not None:
        engine.finish_superstep(state, step, runner.execute(state, step))
    copy = decode_state(workflow, encode_state(workflow, state))
    assert copy.requests["review:2:0"].deadline == now + timedelta(hours=2)
    engine.fire_due(copy, now + timedelta(hours=3))
    again = decode_state(workflow, encode_state(workflow, copy))
    assert again.timed_out == {"review:2:0": 7200.0}
    assert [d.target for d in again.pending] == ["escalate"]
    assert again.pending[0].message.request == Draft(title="Hello")


# -- validation (B13) ------------------------------------------------------------------


def test_timeout_edge_needs_a_port_with_a_timeout() -> None:
    """B13: from an executor, or from a port without a timeout: `timeout-edge` issues."""
    no_timeout = RequestPort("plain", request_type=Draft, response_type=bool)
    with pytest.raises(WorkflowValidationError) as info:
        (
            WorkflowBuilder(write, name="Bad")
            .add_chain([write, no_timeout, publish])
            .add_timeout_edge(no_timeout, escalate)
            .add_timeout_edge(write, escalate)
            .build()
        )
    issues = [(i.code, i.ids) for i in info.value.issues]
    assert ("timeout-edge", ("plain",)) in issues
    assert ("timeout-edge", ("write",)) in issues
    messages = " ".join(i.message for i in info.value.issues)
    assert "has no timeout" in messages
    assert "not a request port" in messages


def test_timeout_edge_target_type_is_checked() -> None:
    """B13/B4: the target must accept RequestTimedOut[request type]."""

    @executor(id="wrong")
    def wrong(t: RequestTimedOut[int]) -> str:
        return "never"

    review = RequestPort("review", request_type=Draft, response_type=bool, timeout=timedelta(1))
    with pytest.raises(WorkflowValidationError) as info:
        (
            WorkflowBuilder(write, name="BadType")
            .add_chain([write, review, publish])
            .add_timeout_edge(review, wrong)
            .build()
        )
    [issue] = info.value.issues
    assert issue.code == "type-mismatch"
    assert "timeout edge" in issue.message
    assert "RequestTimedOut[Draft]" in issue.message


def test_timeout_edge_is_in_the_plan_and_the_hash() -> None:
    """B11: the timeout edge is an edge group of kind 'timeout'; adding it changes the hash."""
    with_edge, without = review_workflow(), review_workflow(timeout_edge=False)
    kinds = [g["kind"] for g in with_edge.plan.to_dict()["edge_groups"]]
    assert kinds == ["edge", "edge", "timeout"]
    assert with_edge.graph_hash != without.graph_hash


def test_timeout_edge_is_drawn() -> None:
    """Rendering: a dashed red edge labelled 'timeout' (DOT) and a dotted one (Mermaid)."""
    workflow = review_workflow()
    dot = workflow.to_dot()
    assert '"review" -> "escalate" [style="dashed", color="#c62828"' in dot
    assert 'label="timeout"' in dot
    assert '-.->|"timeout"|' in workflow.to_mermaid()
