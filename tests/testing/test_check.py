"""`check_workflow` and `run_scripted` (docs/testing.md#check_workflow).

Each built-in check is pinned with a workflow that breaks it; failures shrink to a minimal
example whose reproduction is a runnable test that fails the same way.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, field_serializer

from durable_workflows import (
    Case,
    Default,
    DurableWorkflowsError,
    InvalidResponseError,
    RequestPort,
    SubWorkflow,
    WorkflowBuilder,
    WorkflowContext,
    executor,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.testing import (
    InProcessResult,
    Trace,
    WorkflowCheckError,
    check_workflow,
    run_scripted,
    workflows,
)


class Expense(BaseModel):
    amount: int = Field(ge=0, le=50_000)
    category: Literal["travel", "meals", "equipment"]


def small(expense: Expense) -> bool:
    return expense.amount < 100


def medium(expense: Expense) -> bool:
    return 1_000 <= expense.amount <= 5_000  # planted bug: 100..999 falls through


@executor
def submit(expense: Expense) -> Expense:
    return expense


@executor
def auto_approve(expense: Expense) -> str:
    return "approved"


@executor
def team_lead(expense: Expense) -> str:
    return "approved by the team lead"


manager = RequestPort("manager", request_type=Expense, response_type=bool)


@executor
def manager_decision(approved: bool) -> str:
    return "approved by the manager" if approved else "rejected"


expenses = (
    WorkflowBuilder(submit, name="Expenses")
    .add_switch_case_edge_group(
        submit, [Case(small, auto_approve), Case(medium, team_lead), Default(manager)]
    )
    .add_edge(manager, manager_decision)
    .build()
)


def only_big_expenses_reach_the_manager(expense: Expense, result: InProcessResult) -> bool:
    asked = any(e.type == "waiting_for_input" for e in result.events)
    return asked == (expense.amount > 5_000)


def test_a_switch_case_gap_is_found_and_shrunk_to_its_edge() -> None:
    with pytest.raises(WorkflowCheckError) as caught:
        check_workflow(expenses, only_big_expenses_reach_the_manager, seed=1)
    error = caught.value
    assert error.input.amount == 100  # the smallest amount in the gap
    assert "only_big_expenses_reach_the_manager returned False" in error.reason
    assert "amount=100" in error.reproduction
    assert "from durable_workflows.testing import run_scripted" in error.reproduction
    assert error.reproduction in str(error)


def test_the_reproduction_is_a_test_that_fails_the_same_way() -> None:
    with pytest.raises(WorkflowCheckError) as caught:
        check_workflow(expenses, only_big_expenses_reach_the_manager, seed=2)
    namespace: dict[str, Any] = {}
    exec(compile(caught.value.reproduction, "<reproduction>", "exec"), namespace)
    [test] = [v for k, v in namespace.items() if k.startswith("test_")]
    with pytest.raises(AssertionError):
        test()


def test_the_fixed_workflow_passes() -> None:
    def medium_fixed(expense: Expense) -> bool:
        return 100 <= expense.amount <= 5_000

    fixed = (
        WorkflowBuilder(submit, name="Expenses")
        .add_switch_case_edge_group(
            submit, [Case(small, auto_approve), Case(medium_fixed, team_lead), Default(manager)]
        )
        .add_edge(manager, manager_decision)
        .build()
    )
    check_workflow(fixed, only_big_expenses_reach_the_manager, max_examples=200)


def test_exceeding_max_supersteps_always_fails() -> None:
    @executor(id="countdown")
    def countdown(n: int) -> int:
        return n - 1

    loop = (
        WorkflowBuilder(countdown, name="Countdown", max_supersteps=20)
        .add_edge(countdown, countdown, lambda n: n > 0)
        .build()
    )
    with pytest.raises(WorkflowCheckError, match="exceeded max_supersteps") as caught:
        check_workflow(loop, inputs=st.integers(0, 100), allow_failures=True)
    assert caught.value.input == 21  # 20 counts down in 20 supersteps, 21 needs one more


def test_a_failing_node_fails_the_check_unless_failures_are_allowed() -> None:
    @executor(id="root")
    def root(x: int) -> float:
        if x < 0:
            raise ValueError(f"negative: {x}")
        return x**0.5

    flow = WorkflowBuilder(root, name="Root").build()
    with pytest.raises(WorkflowCheckError, match="the run failed: ExecutorFailedError") as caught:
        check_workflow(flow)
    assert caught.value.input == -1
    check_workflow(flow, allow_failures=True, max_examples=20)


def barrier_flow() -> Workflow:
    @executor(id="split")
    def split(x: int) -> int:
        return x

    @executor(id="always")
    def always(x: int) -> int:
        return x

    @executor(id="when_even")
    def when_even(x: int, ctx: WorkflowContext[int]) -> None:
        if x % 2 == 0:
            ctx.send_message(x)

    @executor(id="join")
    def join(values: list[int]) -> int:
        return sum(values)

    return (
        WorkflowBuilder(split, name="Barrier")
        .add_fan_out_edge(split, [always, when_even])
        .add_fan_in_barrier_edge([always, when_even], join)
        .build()
    )


def test_a_barrier_left_holding_messages_fails_unless_allowed() -> None:
    flow = barrier_flow()
    with pytest.raises(WorkflowCheckError, match=r"left holding messages.*'join'") as caught:
        check_workflow(flow, inputs=st.integers(0, 1000))
    assert caught.value.input == 1
    check_workflow(flow, inputs=st.integers(0, 1000), allow_unfired_barriers=True, max_examples=20)


class Token(BaseModel):
    """A response type that passes `build()` but does not survive its own JSON round trip."""

    raw: str

    @field_serializer("raw")
    def _as_number(self, raw: str) -> int:
        return len(raw)  # decoding wants a str back: every answer is refused


def test_a_request_nobody_can_answer_fails() -> None:
    @executor(id="ask")
    def ask(x: int) -> int:
        return x

    port = RequestPort("token", request_type=int, response_type=Token)
    flow = WorkflowBuilder(ask, name="Tokens").add_edge(ask, port).build()
    with pytest.raises(WorkflowCheckError, match="'token:2:0' of port 'token' cannot be answered"):
        check_workflow(flow, inputs=st.just(1))


def two_reviews() -> Workflow:
    @executor(id="draft")
    def draft(text: str) -> str:
        return text

    legal = RequestPort("legal", request_type=str, response_type=bool)
    brand = RequestPort("brand", request_type=str, response_type=bool)

    @executor(id="record")
    def record(ok: bool, ctx: WorkflowContext[str, str]) -> None:
        ctx.yield_output(f"{ctx.get_state('order', 0)}:{ok}")
        ctx.set_state("order", ctx.get_state("order", 0) + 1)

    return (
        WorkflowBuilder(draft, name="Reviews")
        .add_fan_out_edge(draft, [legal, brand])
        .add_edge(legal, record)
        .add_edge(brand, record)
        .build()
    )


def legal_answers_first(text: str, result: InProcessResult) -> bool:
    answered = [e.port_id for e in result.events if e.type == "response_received"]
    return answered[:1] == ["legal"]


def test_response_orders_are_explored() -> None:
    with pytest.raises(WorkflowCheckError) as caught:
        check_workflow(two_reviews(), legal_answers_first, inputs=st.just("post"))
    first_batch = caught.value.answers[0]
    assert first_batch[0][0] == "brand:2:0"


def test_responses_can_be_given_per_port() -> None:
    check_workflow(
        two_reviews(),
        lambda text, result: all(o.endswith("True") for o in result.outputs),
        inputs=st.just("post"),
        responses={"legal": st.just(True), "brand": st.just(True)},
        max_examples=10,
    )
    with pytest.raises(DurableWorkflowsError, match=r"\['typo'\], which are not request ports"):
        check_workflow(two_reviews(), responses={"typo": st.just(True)})


def test_an_invariant_may_assert() -> None:
    def short_outputs(text: str, result: InProcessResult) -> None:
        assert len(text) < 3, f"{text!r} is long"

    with pytest.raises(WorkflowCheckError, match="short_outputs raised AssertionError: '000' is long"):
        check_workflow(two_reviews(), short_outputs, inputs=st.text("0", max_size=5))


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.nested_given],
)
@given(workflows(max_nodes=6))
def test_generated_workflows_pass_the_built_in_checks(workflow: Workflow) -> None:
    check_workflow(
        workflow, inputs=st.just(Trace(path=["in"])), allow_unfired_barriers=True, max_examples=10
    )


def test_run_scripted_submits_batches_in_order() -> None:
    flow = two_reviews()
    result = run_scripted(flow, "post", [[("brand:2:0", True)], [("legal:2:0", False)]])
    assert result.status == "completed"
    assert result.outputs == ["0:True", "1:False"]
    waiting = run_scripted(flow, "post", [[("brand:2:0", True)]])
    assert waiting.status == "waiting"
    assert [r.request_id for r in waiting.pending_requests] == ["legal:2:0"]
    refused = run_scripted(flow, "post", [[("legal:9:9", True)]])
    assert refused.status == "failed"
    assert isinstance(refused.error, InvalidResponseError)


def test_a_sub_workflows_requests_are_answered_like_the_parents() -> None:
    """W4: a child run's request ("review/approve") is drawn and answered like any other."""

    @executor(id="ask")
    def ask(x: int) -> int:
        return x

    @executor(id="decide")
    def decide(ok: bool) -> str:
        return "approved" if ok else "refused"

    approve = RequestPort("approve", request_type=int, response_type=bool)
    child = (
        WorkflowBuilder(ask, name="Review").add_edge(ask, approve).add_edge(approve, decide).build()
    )

    @executor(id="start")
    def start(x: int) -> int:
        return x

    parent = WorkflowBuilder(start, name="Submit").add_edge(start, SubWorkflow(child, id="review"))
    check_workflow(
        parent.build(),
        lambda _, result: result.status != "completed" or result.result in ("approved", "refused"),
        inputs=st.integers(0, 9),
        max_examples=10,
    )
