"""`ctx.request_info` and `@response_handler` (P11): the Agent Framework's Python form of asking."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from durable_workflows import (
    Executor,
    ExecutorFailedError,
    InvalidResponseError,
    WaitingForInputEvent,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowDefinitionError,
    executor,
    handler,
    response_handler,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.model.requests import InfoResponse
from durable_workflows.runtime.engine import Engine
from durable_workflows.runtime.wire import decode_state, encode_state
from durable_workflows.testing import InProcessRunner, run_in_process


class Draft(BaseModel):
    text: str


class Budget(BaseModel):
    amount: int


class Reviewer(Executor):
    """Asks a person to approve a draft, and (for long drafts) for a budget too."""

    @handler
    async def review(self, draft: Draft, ctx: WorkflowContext[str, str]) -> None:
        ctx.yield_output(f"asking about {draft.text}")
        ctx.add_event("asked")
        await ctx.request_info(draft, response_type=bool)
        if len(draft.text) > 5:
            ctx.request_info(Budget(amount=len(draft.text)), response_type=int)

    @response_handler
    async def on_review(self, original: Draft, approved: bool, ctx: WorkflowContext[str]) -> None:
        ctx.send_message(f"{original.text}: {'approved' if approved else 'rejected'}")

    @response_handler
    def on_budget(self, original: Budget, granted: int) -> str:
        return f"budget {granted}/{original.amount}"


@executor(id="write")
def write(text: str) -> Draft:
    return Draft(text=text)


@executor(id="publish")
def publish(verdict: str) -> str:
    return f"published {verdict}"


def review_flow() -> Workflow:
    reviewer = Reviewer("reviewer")
    return WorkflowBuilder(write, name="Ask").add_chain([write, reviewer, publish]).build()


def answers(event: WaitingForInputEvent) -> Any:
    return True if isinstance(event.request, Draft) else 7


def test_request_info_makes_a_request_answered_by_the_response_handler() -> None:
    """P11: the request waits at the executor; its response goes to the matching
    @response_handler in the next superstep, whose sends are the executor's."""
    result = run_in_process(review_flow(), "hi", responses=answers)
    assert result.status == "completed", result.error
    assert result.outputs == ["asking about hi", "published hi: approved"]
    waiting = [e for e in result.events if isinstance(e, WaitingForInputEvent)]
    assert [(w.request_id, w.port_id, w.request, w.response_type) for w in waiting] == [
        ("reviewer:2:0", "reviewer", Draft(text="hi"), "bool")
    ]
    invoked = [(e.executor_id, e.superstep) for e in result.events if e.type == "executor_invoked"]
    assert invoked == [("write", 1), ("reviewer", 2), ("reviewer", 3), ("publish", 4)]


def test_two_requests_of_one_invocation_and_two_response_handlers() -> None:
    """P11: ids count the executor's requests in call order; each answer finds its handler."""
    result = run_in_process(review_flow(), "longer", responses=answers)
    assert result.status == "completed", result.error
    waiting = [e for e in result.events if isinstance(e, WaitingForInputEvent)]
    assert [(w.request_id, w.response_type) for w in waiting] == [
        ("reviewer:2:0", "bool"),
        ("reviewer:2:1", "int"),
    ]
    assert result.outputs == [
        "asking about longer",
        "published longer: approved",
        "published budget 7/6",
    ]


def test_the_waiting_event_follows_outputs_and_custom_events() -> None:
    """V1: outputs, custom events, then the WaitingForInputEvent, then ExecutorCompleted."""
    result = run_in_process(review_flow(), "hi")
    assert result.status == "waiting"
    kinds = [e.type for e in result.events]
    start = next(i for i, e in enumerate(result.events) if getattr(e, "superstep", 0) == 2)
    assert kinds[start:] == [
        "executor_invoked",
        "workflow_output",
        "custom",
        "waiting_for_input",
        "executor_completed",
    ]


def test_a_response_of_the_wrong_type_is_refused() -> None:
    """P11/P3: the response is validated against the asked type."""
    runner = InProcessRunner(review_flow())
    assert runner.run("hi").status == "waiting"
    with pytest.raises(InvalidResponseError, match="'reviewer' refused"):
        runner.submit_response("reviewer:2:0", "yes")
    assert runner.submit_response("reviewer:2:0", False).outputs == [
        "asking about hi",
        "published hi: rejected",
    ]


def test_a_named_event_after_the_executor_answers() -> None:
    """P10 + P11: an event named after the executor answers its one open request."""
    runner = InProcessRunner(review_flow())
    runner.run("hi")
    assert runner.raise_event("reviewer", True).status == "completed"


def test_asking_without_a_matching_response_handler_fails_the_node() -> None:
    """P11: a (request, type) pair no response handler takes fails the node, naming both."""

    class Careless(Executor):
        @handler
        def go(self, text: str, ctx: WorkflowContext) -> None:
            ctx.request_info(text, response_type=bool)

        @response_handler
        def on_draft(self, original: Draft, approved: bool) -> None:
            return None

    workflow = WorkflowBuilder(Careless("careless"), name="Careless").build()
    result = run_in_process(workflow, "x")
    assert result.status == "failed"
    assert isinstance(result.error, ExecutorFailedError)
    assert result.error.executor_id == "careless"
    assert "none of its @response_handler methods takes (str, bool)" in str(result.error)


def test_a_function_executor_cannot_ask() -> None:
    """P11: a function executor has no response handlers, so asking fails it."""

    @executor(id="asker")
    def asker(text: str, ctx: WorkflowContext) -> None:
        ctx.request_info(text, response_type=str)

    result = run_in_process(WorkflowBuilder(asker, name="FnAsk").build(), "x")
    assert result.status == "failed"
    assert "@response_handler" in str(result.error)


def test_response_handler_signature_is_checked_at_definition() -> None:
    """D4/P11: a response handler takes exactly the original request and the response."""

    class Bad(Executor):
        @handler
        def go(self, text: str) -> str:
            return text

        @response_handler
        def on_answer(self, answer: bool) -> None:
            return None

    with pytest.raises(WorkflowDefinitionError, match=r"response handler .* exactly 2 parameters"):
        Bad("bad")


def test_response_handler_outputs_are_declared_and_type_checked() -> None:
    """D3/B4: what a response handler sends counts among the executor's output types."""
    reviewer = Reviewer("reviewer")
    assert str in reviewer.output_types
    assert set(reviewer.asked_types) == {Draft, bool, Budget, int}
    plan = review_flow().plan.to_dict()
    [node] = [n for n in plan["nodes"] if n["id"] == "reviewer"]
    assert "asks=test_request_info.Draft->bool" in node["output_types"]


def test_state_round_trip_keeps_asked_requests_and_answers() -> None:
    """J5: an open asked request and an answer on its way survive encode/decode."""
    workflow = review_flow()
    engine = Engine(workflow)
    runner = InProcessRunner(workflow)
    state = engine.start("longer")
    while (step := engine.begin_superstep(state)) is not None:
        engine.finish_superstep(state, step, runner.execute(state, step))
    copy = decode_state(workflow, encode_state(workflow, state))
    assert copy.requests["reviewer:2:1"].response_type is int
    assert copy.requests["reviewer:2:1"].request == Budget(amount=6)
    engine.submit_response(copy, "reviewer:2:0", True)
    again = decode_state(workflow, encode_state(workflow, copy))
    [delivery] = again.pending
    assert delivery.message == InfoResponse(Draft(text="longer"), True, bool)
    assert list(again.requests) == ["reviewer:2:1"]


def test_an_executor_that_asks_is_drawn_with_what_it_asks() -> None:
    """Rendering: an asking executor lists its (request → response) pairs."""
    dot = review_flow().to_dot()
    assert "asks Draft → bool\\nasks Budget → int" in dot
    assert "asks Draft → bool<br/>asks Budget → int" in review_flow().to_mermaid()
