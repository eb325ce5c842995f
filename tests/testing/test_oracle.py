"""The durable oracle `assert_durable_matches_in_process` (docs/testing.md#the-durable-oracle)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pytest

from durable_workflows import (
    DurableWorkflowHost,
    RequestPort,
    WaitingForInputEvent,
    WorkflowBuilder,
    WorkflowContext,
    executor,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.testing import DurableMismatchError, assert_durable_matches_in_process


def review_flow() -> Workflow:
    @executor(id="draft")
    def draft(topic: str, ctx: WorkflowContext[str, str]) -> None:
        ctx.yield_output(f"draft on {topic}")
        ctx.send_message(topic)

    legal = RequestPort("legal", request_type=str, response_type=bool)
    brand = RequestPort("brand", request_type=str, response_type=bool)

    @executor(id="verdict")
    def verdict(answers: list[bool]) -> str:
        return "publish" if all(answers) else "revise"

    return (
        WorkflowBuilder(draft, name="Review")
        .add_fan_out_edge(draft, [legal, brand])
        .add_fan_in_barrier_edge([legal, brand], verdict)
        .build()
    )


def test_runs_with_requests_match(workflow_host: Callable[..., DurableWorkflowHost]) -> None:
    flow = review_flow()
    host = workflow_host(flow)

    def answer(request: WaitingForInputEvent) -> bool:
        return request.port_id == "legal"

    result = asyncio.run(assert_durable_matches_in_process(flow, "rain", responses=answer, host=host))
    assert result.outputs == ["draft on rain", "revise"]
    waiting = asyncio.run(assert_durable_matches_in_process(flow, "snow", host=host))
    assert waiting.status == "waiting"


def test_a_failing_node_fails_the_same_way_durably() -> None:
    """E1: the failure events name the exception class on both sides (durabletask qualifies it)."""

    @executor(id="parse")
    def parse(text: str) -> int:
        return int(text)

    flow = WorkflowBuilder(parse, name="Parse").build()
    result = asyncio.run(assert_durable_matches_in_process(flow, "x1"))
    assert result.status == "failed"
    assert result.events[-1].error_type == "ValueError"  # type: ignore[attr-defined]


def test_a_nondeterministic_executor_is_caught() -> None:
    calls = itertools.count()

    @executor(id="stamp")
    def stamp(x: int) -> int:
        return x + next(calls)  # the durable run is the second call

    flow = WorkflowBuilder(stamp, name="Stamp").build()
    with pytest.raises(DurableMismatchError, match="outputs"):
        asyncio.run(assert_durable_matches_in_process(flow, 1))
