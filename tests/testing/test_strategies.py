"""The public hypothesis strategies (docs/testing.md#strategies).

`values_for` draws values that match their annotation and survive the JSON round trip;
`inputs_for` / `responses_for` draw what the engine accepts; `workflows` / `workflow_specs`
generate every construct the library has.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from datetime import datetime
from typing import Annotated, Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from durable_workflows import AgentNode, Executor, RequestPort, WorkflowBuilder, executor
from durable_workflows.graph.workflow import Workflow
from durable_workflows.model.edges import FanInEdge, FanOutEdge, SingleEdge, SwitchCaseEdge
from durable_workflows.model.executors import FunctionExecutor
from durable_workflows.runtime.engine import Engine
from durable_workflows.testing import (
    NoStrategyError,
    Trace,
    WorkflowSpec,
    inputs_for,
    responses_for,
    run_in_process,
    values_for,
    workflow_specs,
)
from durable_workflows.testing.graphs import build_or_none
from durable_workflows.values.serialization import TypeRegistry
from durable_workflows.values.typing_utils import matches


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


@dataclasses.dataclass
class Line:
    sku: str
    quantity: int


class Order(BaseModel):
    amount: float = Field(ge=0, le=10_000)
    lines: list[Line]
    priority: Priority
    channel: Literal["web", "phone"]
    note: str | None = None
    code: Annotated[str, Field(min_length=2, max_length=4)] = "ab"


class Tree(BaseModel):
    value: int
    children: list[Tree] = []


ANNOTATIONS: list[Any] = [
    int,
    float,
    str,
    bool,
    None | int,
    Literal["a", "b", 3],
    Priority,
    Line,
    Order,
    Tree,
    list[Order],
    tuple[int, str],
    tuple[Line, ...],
    dict[str, list[int]],
    datetime,
    Any,
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_values_match_their_annotation_and_survive_json(data: st.DataObject) -> None:
    annotation = data.draw(st.sampled_from(ANNOTATIONS))
    value = data.draw(values_for(annotation))
    assert matches(value, annotation)
    registry = TypeRegistry([annotation])
    assert registry.decode(registry.encode(value, [annotation])) == value


@given(values_for(Order))
def test_model_field_constraints_are_respected(order: Order) -> None:
    assert 0 <= order.amount <= 10_000
    assert 2 <= len(order.code) <= 4


@given(values_for(Annotated[int, Field(gt=5, lt=9)]))
def test_annotated_constraints_are_respected(value: int) -> None:
    assert value in (6, 7, 8)


def test_a_type_without_a_strategy_is_a_clear_error() -> None:
    class Opaque:
        def __init__(self, handle) -> None:  # type: ignore[no-untyped-def]
            self.handle = handle

    with pytest.raises(NoStrategyError, match=r"Opaque.*pass one yourself"):
        values_for(Opaque)
    with pytest.raises(NoStrategyError, match="string keys"):
        values_for(dict[int, str])


@executor
def intake(order: Order) -> str:
    return order.channel


approval = RequestPort("approval", request_type=str, response_type=Order)
orders = WorkflowBuilder(intake, name="Orders").add_edge(intake, approval).build()


@given(inputs_for(orders))
def test_inputs_are_accepted_by_the_start_node(order: Any) -> None:
    assert Engine(orders).coerce_input(order) == order


@given(responses_for(approval))
def test_responses_are_accepted_by_the_port(response: Any) -> None:
    assert Engine(orders).coerce_response(approval, response) == response


def constructs(spec: WorkflowSpec, workflow: Workflow) -> set[str]:
    """The constructs a generated workflow uses (graph, node kinds, behaviours, policies)."""
    found: set[str] = set()
    for node in workflow.nodes.values():
        if isinstance(node, FunctionExecutor):
            is_async = inspect.iscoroutinefunction(node.func)
            found.add("async function executor" if is_async else "function executor")
        elif isinstance(node, Executor):
            found.add("class executor")
        if isinstance(node, RequestPort):
            found.add("request port" + (" with timeout" if node.timeout else ""))
        if isinstance(node, AgentNode):
            found.add("agent")
        if isinstance(node, Executor) and node.retry:
            found.add("retry policy")
        if isinstance(node, Executor) and node.timeout:
            found.add("executor timeout")
    for group in workflow.groups:
        if isinstance(group, SingleEdge):
            found.add("self-loop" if group.source == group.target else "edge")
            found.add("conditional edge" if group.condition else "unconditional edge")
        found.add({FanOutEdge: "fan-out", FanInEdge: "fan-in", SwitchCaseEdge: "switch-case"}.get(type(group), "edge"))
    for node_spec in spec.nodes:
        found |= {name for name, on in (("extra send", node_spec.extra), ("halt", node_spec.halt)) if on}
        found |= {"targeted send"} if node_spec.extra and node_spec.target is not None else set()
    return found


EVERY_CONSTRUCT = {
    "class executor",
    "function executor",
    "async function executor",
    "request port",
    "request port with timeout",
    "agent",
    "edge",
    "conditional edge",
    "unconditional edge",
    "fan-out",
    "fan-in",
    "switch-case",
    "self-loop",
    "retry policy",
    "executor timeout",
    "extra send",
    "targeted send",
    "halt",
}


def test_workflows_generate_every_construct() -> None:
    seen: set[str] = set()
    statuses: set[str] = set()

    @settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @given(workflow_specs())
    def collect(spec: WorkflowSpec) -> None:
        workflow = build_or_none(spec)
        if workflow is None:
            return
        seen.update(constructs(spec, workflow))
        result = run_in_process(workflow, Trace(path=["in"]), responses=lambda r: Trace(path=["r"]))
        statuses.add(result.status)

    collect()
    assert seen >= EVERY_CONSTRUCT, EVERY_CONSTRUCT - seen
    assert statuses == {"completed"}  # generated workflows are valid and well behaved


def test_constructs_can_be_switched_off() -> None:
    @settings(max_examples=60, deadline=None, database=None)
    @given(workflow_specs(ports=False, agents=False, loops=False, halts=False, targeted=False, policies=False, fan_ins=False))
    def plain(spec: WorkflowSpec) -> None:
        workflow = build_or_none(spec)
        assert workflow is not None
        found = constructs(spec, workflow)
        off = {"request port", "agent", "self-loop", "halt", "targeted send", "retry policy", "fan-in", "executor timeout"}
        assert not found & off

    plain()
