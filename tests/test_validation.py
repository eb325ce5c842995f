"""Build-time validation: one bad graph per rule (docs/semantics.md B1-B10)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from durable_workflows import (
    AgentResponse,
    Case,
    Default,
    DurableWorkflowsError,
    RequestPort,
    WorkflowBuilder,
    WorkflowValidationError,
    executor,
)
from durable_workflows.model.agent_protocol import AgentInput, AgentThreadState


class Order(BaseModel):
    id: str


class Receipt(BaseModel):
    order_id: str


@executor
def start(text: str) -> str:
    return text


@executor
def upper(text: str) -> str:
    return text.upper()


@executor
def lower(text: str) -> str:
    return text.lower()


@executor
def to_order(text: str) -> Order:
    return Order(id=text)


@executor
def takes_int(n: int) -> int:
    return n


@executor
def join(texts: list[str]) -> str:
    return ",".join(texts)


def build_error(builder: WorkflowBuilder) -> WorkflowValidationError:
    with pytest.raises(WorkflowValidationError) as info:
        builder.build()
    assert isinstance(info.value, DurableWorkflowsError)
    assert isinstance(info.value, ValueError)
    return info.value


def codes(error: WorkflowValidationError) -> list[str]:
    return [issue.code for issue in error.issues]


class TextAgent:
    """A minimal `WorkflowAgent`: replies with a fixed text."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def response_type(self) -> type[AgentResponse[Any]]:
        return AgentResponse[Any]

    def run_turn(
        self, thread: AgentThreadState, message: AgentInput, *, thread_id: str
    ) -> tuple[AgentThreadState, AgentResponse[Any]]:
        return thread, AgentResponse[Any](text="ok", thread_id=thread_id)


def test_a_valid_graph_builds() -> None:
    """B1-B10: the happy path raises nothing (so the other tests fail for their own reason)."""
    workflow = (
        WorkflowBuilder(start, name="ok")
        .add_fan_out_edge(start, [upper, lower])
        .add_fan_in_barrier_edge([upper, lower], join)
        .build()
    )
    assert list(workflow.nodes) == ["start", "upper", "lower", "join"]


def test_duplicate_ids() -> None:
    """B1: two different nodes with one id; the message names the id."""

    @executor(id="upper")
    def other_upper(text: str) -> str:
        return text

    error = build_error(WorkflowBuilder(start, name="dup").add_chain([start, upper, other_upper]))
    assert codes(error) == ["duplicate-id"]
    assert error.issues[0].ids == ("upper",)
    assert "'upper'" in str(error)


def test_same_node_referenced_twice_is_not_a_duplicate() -> None:
    """B1: referencing one object many times is fine."""
    WorkflowBuilder(start, name="same").add_edge(start, upper).add_edge(start, upper).build()


def test_edge_to_a_node_never_added() -> None:
    """B2: a string reference to a node that was never added."""
    error = build_error(WorkflowBuilder(start, name="refs").add_edge(start, "ghost"))
    assert codes(error) == ["unknown-node"]
    assert error.issues[0].ids == ("ghost",)
    assert "'ghost'" in str(error)


def test_string_refs_to_added_nodes_are_fine() -> None:
    """B2: ids of nodes added earlier can be used as references."""
    workflow = WorkflowBuilder(start, name="refs").add_node(upper).add_edge("start", "upper").build()
    assert workflow.successors["start"] == frozenset({"upper"})


def test_unreachable_nodes() -> None:
    """B3: every node must be reachable from the start node."""
    error = build_error(
        WorkflowBuilder(start, name="unreach").add_edge(start, upper).add_edge(lower, to_order)
    )
    assert codes(error) == ["unreachable", "unreachable"]
    assert [issue.ids for issue in error.issues] == [("lower",), ("to_order",)]
    assert "'lower' is not reachable from the start node 'start'" in str(error)


def test_type_mismatch_on_a_plain_edge() -> None:
    """B4: str -> int."""
    error = build_error(WorkflowBuilder(start, name="types").add_edge(start, takes_int))
    assert codes(error) == ["type-mismatch"]
    assert error.issues[0].ids == ("start", "takes_int")
    assert "'start' sends str, but 'takes_int' accepts int" in str(error)


def test_type_mismatch_with_a_node_that_sends_nothing() -> None:
    """B4, D3: a `-> None` executor without WorkflowContext[...] sends nothing."""

    @executor
    def sink(text: str) -> None:
        return None

    error = build_error(WorkflowBuilder(start, name="types").add_chain([start, sink, upper]))
    assert codes(error) == ["type-mismatch"]
    assert "'sink' sends nothing" in str(error)


def test_fan_in_target_receives_a_list() -> None:
    """B4: a fan-in target must accept list[source output], not the output itself."""
    error = build_error(
        WorkflowBuilder(start, name="fanin")
        .add_fan_out_edge(start, [upper, lower])
        .add_fan_in_barrier_edge([upper, lower], takes_int)
    )
    assert codes(error) == ["type-mismatch", "type-mismatch"]
    assert [issue.ids for issue in error.issues] == [("upper", "takes_int"), ("lower", "takes_int")]
    assert "sends list[str]" in str(error)
    assert "a fan-in target receives a list" in str(error)


def test_fan_in_target_with_wrong_element_type() -> None:
    """B4: list[Order] is not list[str]."""
    error = build_error(
        WorkflowBuilder(start, name="fanin")
        .add_fan_out_edge(start, [upper, to_order])
        .add_fan_in_barrier_edge([upper, to_order], join)
    )
    assert codes(error) == ["type-mismatch"]
    assert error.issues[0].ids == ("to_order", "join")


def test_request_port_request_and_response_types() -> None:
    """B4: the port's request type is checked on the way in, its response type on the way out."""
    port = RequestPort("Approve", request_type=Order, response_type=bool)
    error = build_error(WorkflowBuilder(start, name="ports").add_chain([start, port, join]))
    assert codes(error) == ["type-mismatch", "type-mismatch"]
    assert error.issues[0].ids == ("start", "Approve")
    assert "'start' sends str, but 'Approve' accepts Order" in str(error)
    assert error.issues[1].ids == ("Approve", "join")
    assert "'Approve' sends bool, but 'join' accepts list[str]" in str(error)


def test_agent_node_types() -> None:
    """B4, D6: an agent accepts text/chat messages/responses and sends its response type."""
    agent = TextAgent("Writer")
    error = build_error(WorkflowBuilder(takes_int, name="agents").add_chain([takes_int, agent, join]))
    assert codes(error) == ["type-mismatch", "type-mismatch"]
    assert error.issues[0].ids == ("takes_int", "Writer")
    assert error.issues[1].ids == ("Writer", "join")
    assert "'Writer' sends AgentResponse[Any]" in str(error)


def test_switch_case_without_default() -> None:
    """B5: exactly one Default."""
    error = build_error(
        WorkflowBuilder(start, name="switch").add_switch_case_edge_group(
            start, [Case(lambda t: t == "a", upper), Case(lambda t: t == "b", lower)]
        )
    )
    assert codes(error) == ["switch-case"]
    assert error.issues[0].ids == ("start",)
    assert "'start'" in str(error) and "0 Default branches" in str(error)


def test_switch_case_with_two_defaults() -> None:
    """B5: exactly one Default."""
    error = build_error(
        WorkflowBuilder(start, name="switch").add_switch_case_edge_group(
            start, [Case(lambda t: t == "a", upper), Default(lower), Default(upper)]
        )
    )
    assert codes(error) == ["switch-case"]
    assert "2 Default branches" in str(error)


def test_switch_case_default_not_last() -> None:
    """B5: the Default is the last branch."""
    error = build_error(
        WorkflowBuilder(start, name="switch").add_switch_case_edge_group(
            start, [Default(lower), Case(lambda t: t == "a", upper)]
        )
    )
    assert codes(error) == ["switch-case"]
    assert "Default is not the last branch" in str(error)


async def async_condition(text: str) -> bool:
    return True


class AsyncCallable:
    async def __call__(self, text: str) -> bool:
        return True


def test_async_condition_function_on_an_edge() -> None:
    """B6: async conditions are refused at build time, naming the edge."""
    error = build_error(
        WorkflowBuilder(start, name="cond").add_edge(start, upper, async_condition)  # type: ignore[arg-type]
    )
    assert codes(error) == ["async-condition"]
    assert "'start' -> 'upper' is async" in str(error)


def test_async_callable_object_as_a_case_condition() -> None:
    """B6: a callable object with an async __call__ is async too."""
    error = build_error(
        WorkflowBuilder(start, name="cond").add_switch_case_edge_group(
            start, [Case(AsyncCallable(), upper), Default(lower)]  # type: ignore[arg-type]
        )
    )
    assert codes(error) == ["async-condition"]
    assert "'start' to 'upper' is async" in str(error)


def test_fan_in_over_mutually_exclusive_switch_cases_never_fires() -> None:
    """B7: only one case of a switch runs, so a barrier over two cases can never fire."""
    error = build_error(
        WorkflowBuilder(start, name="never")
        .add_switch_case_edge_group(start, [Case(lambda t: t == "a", upper), Default(lower)])
        .add_fan_in_barrier_edge([upper, lower], join)
    )
    assert codes(error) == ["fan-in-never-fires"]
    assert error.issues[0].ids == ("join", "upper", "lower")
    assert "'upper' and 'lower' lie on different cases" in str(error)


def test_fan_in_source_only_reachable_through_the_target_never_fires() -> None:
    """B7: a source fed only by the barrier's own target waits forever."""

    @executor
    def again(text: str) -> str:
        return text

    error = build_error(
        WorkflowBuilder(start, name="never", max_supersteps=10)
        .add_edge(start, upper)
        .add_fan_in_barrier_edge([upper, again], join)
        .add_edge(join, again)
    )
    assert codes(error) == ["fan-in-never-fires"]
    assert error.issues[0].ids == ("join", "again")
    assert "'again' is only reached through 'join'" in str(error)


@pytest.mark.parametrize("name", ["", "1abc", "has space", "dots.are.bad", "x" * 64, "é"])
def test_bad_workflow_names(name: str) -> None:
    """B8: names are stable identifiers."""
    error = build_error(WorkflowBuilder(start, name=name))
    assert codes(error) == ["workflow-name"]
    assert repr(name) in str(error)


@pytest.mark.parametrize("name", ["a", "CancelOrder", "expense-reimbursement_2", "x" * 63])
def test_good_workflow_names(name: str) -> None:
    """B8: the pattern's edges."""
    assert WorkflowBuilder(start, name=name).build().name == name


@pytest.mark.parametrize("limit", [0, -1, True, 2.5])
def test_max_supersteps_must_be_a_positive_int(limit: Any) -> None:
    """B9: max_supersteps is a positive int."""
    error = build_error(WorkflowBuilder(start, name="limits", max_supersteps=limit))
    assert codes(error) == ["max-supersteps"]
    assert repr(limit) in str(error)


def test_fan_in_listing_a_source_twice() -> None:
    """B10: each barrier source once."""
    error = build_error(
        WorkflowBuilder(start, name="twice")
        .add_edge(start, upper)
        .add_fan_in_barrier_edge([upper, upper], join)
    )
    assert "fan-in-duplicate-source" in codes(error)


def test_cycles_are_allowed() -> None:
    """B10, L1: a loop with an exit condition builds."""

    @executor
    def count(n: int) -> int:
        return n + 1

    workflow = (
        WorkflowBuilder(count, name="loop", max_supersteps=5)
        .add_edge(count, count, lambda n: n < 3)
        .build()
    )
    assert workflow.max_supersteps == 5


def test_all_problems_are_reported_at_once() -> None:
    """B1-B10: three problems, three issues, one exception listing them all."""
    error = build_error(
        WorkflowBuilder(start, name="bad name")
        .add_edge(start, takes_int)
        .add_edge(start, "ghost")
    )
    assert sorted(codes(error)) == ["type-mismatch", "unknown-node", "workflow-name"]
    message = str(error)
    assert "(3 problems)" in message
    assert message.count("\n  - [") == 3
    assert error.workflow_name == "bad name"
