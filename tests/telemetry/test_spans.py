"""Spans and metrics of runs on the embedded backend, read from the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from durable_workflows import (
    DurableWorkflowHost,
    RetryPolicy,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowFailedError,
    executor,
)
from durable_workflows.agents import Agent, DeterministicChatClient
from durable_workflows.durable.orchestrator import SUPERSTEPS_PER_GENERATION
from durable_workflows.graph.workflow import Workflow

from .conftest import Telemetry

pytestmark = pytest.mark.e2e


def _chain() -> Workflow:
    @executor(id="double")
    def double(x: int) -> int:
        return x * 2

    @executor(id="inc")
    def inc(x: int) -> int:
        return x + 1

    @executor(id="fmt")
    def fmt(x: int) -> str:
        return f"v={x}"

    return WorkflowBuilder(double, name="OtelChain").add_chain([double, inc, fmt]).build()


CHAIN = _chain()
LOOP_STEPS = SUPERSTEPS_PER_GENERATION + 5


def _loop() -> Workflow:
    @executor(id="count")
    def count(x: int, ctx: WorkflowContext[int, int]) -> None:
        if x < LOOP_STEPS:
            ctx.send_message(x + 1)
        else:
            ctx.yield_output(x)

    return (
        WorkflowBuilder(count, name="OtelLoop", max_supersteps=LOOP_STEPS + 5)
        .add_edge(count, count)
        .build()
    )


def _flaky() -> Workflow:
    calls: list[int] = []

    @executor(id="flaky", retry=RetryPolicy(max_attempts=2, first_retry_interval=timedelta(milliseconds=10)))
    def flaky(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")
        return x

    @executor(id="boom")
    def boom(x: int) -> int:
        raise ValueError(f"no {x}")

    return WorkflowBuilder(flaky, name="OtelFlaky").add_edge(flaky, boom).build()


LOOP, FLAKY = _loop(), _flaky()
JOKER = Agent(
    "OtelJoker", "You tell jokes.", DeterministicChatClient(default="Why? Because.")
)
WITH_AGENT = WorkflowBuilder(JOKER, name="OtelAgent").build()


def _run(workflows: list[Workflow], body: Any) -> Any:
    async def main() -> Any:
        async with DurableWorkflowHost(workflows=workflows) as host:
            return await asyncio.wait_for(body(host.client), 60)

    return asyncio.run(main())


def _by_name(spans: list[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        found.setdefault(span.name, []).append(span)
    return found


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def test_a_run_is_one_trace_with_nested_spans(telemetry: Telemetry) -> None:
    before = telemetry.counters()
    tracer = trace.get_tracer("tests")

    async def body(client: Any) -> Any:
        with tracer.start_as_current_span("caller") as caller:
            run = await client.run(CHAIN, 4)
        assert await run.wait_for_completion(timeout=30) == "v=9"
        return run.run_id, caller.get_span_context()

    run_id, caller = _run([CHAIN], body)
    spans = telemetry.finished()
    names = Counter(s.name for s in spans)
    assert names == {
        "workflow.start OtelChain": 1,
        "workflow.run OtelChain": 1,
        "workflow.superstep 1": 1,
        "workflow.superstep 2": 1,
        "workflow.superstep 3": 1,
        "workflow.executor double": 1,
        "workflow.executor inc": 1,
        "workflow.executor fmt": 1,
    }  # every superstep replayed the ones before it: nothing is emitted twice
    assert {s.context.trace_id for s in spans} == {caller.trace_id}
    by = _by_name(spans)
    start, run = by["workflow.start OtelChain"][0], by["workflow.run OtelChain"][0]
    assert _parent_id(start) == caller.span_id
    assert _parent_id(run) == start.context.span_id
    assert run.attributes is not None and run.attributes["workflow.run_id"] == run_id
    assert run.attributes["workflow.version"] == CHAIN.version
    for number, node in ((1, "double"), (2, "inc"), (3, "fmt")):
        step = by[f"workflow.superstep {number}"][0]
        assert _parent_id(step) == run.context.span_id
        assert step.attributes is not None and step.attributes["workflow.superstep"] == number
        call = by[f"workflow.executor {node}"][0]
        assert _parent_id(call) == step.context.span_id
        assert call.attributes is not None
        assert dict(call.attributes).items() >= {
            "workflow.run_id": run_id,
            "workflow.node_id": node,
            "workflow.superstep": number,
            "workflow.attempt": 1,
        }.items()
        assert step.start_time <= call.start_time <= call.end_time <= step.end_time
    assert run.status.status_code == StatusCode.UNSET
    assert _delta(before, telemetry.counters()) == {
        "durable_workflows.runs.started": 1,
        "durable_workflows.runs.completed": 1,
        "durable_workflows.step.duration": 3,
    }


def test_one_run_span_across_continue_as_new(telemetry: Telemetry) -> None:
    async def body(client: Any) -> Any:
        run = await client.run(LOOP, 1)
        return await run.wait_for_completion(timeout=60)

    assert _run([LOOP], body) == LOOP_STEPS
    by = _by_name(telemetry.finished())
    (run,) = by["workflow.run OtelLoop"]
    steps = [s for name, found in by.items() if name.startswith("workflow.superstep") for s in found]
    assert len(steps) == LOOP_STEPS
    assert {_parent_id(s) for s in steps} == {run.context.span_id}
    assert len(by["workflow.executor count"]) == LOOP_STEPS


def test_failures_and_retries_are_recorded(telemetry: Telemetry) -> None:
    before = telemetry.counters()

    async def body(client: Any) -> None:
        run = await client.run(FLAKY, 3)
        with pytest.raises(WorkflowFailedError, match="no 3"):
            await run.wait_for_completion(timeout=30)

    _run([FLAKY], body)
    by = _by_name(telemetry.finished())
    attempts = sorted(s.attributes["workflow.attempt"] for s in by["workflow.executor flaky"])  # type: ignore[index]
    assert attempts == [1, 2]
    first = min(by["workflow.executor flaky"], key=lambda s: s.start_time)
    assert first.status.status_code == StatusCode.ERROR
    assert [e.name for e in first.events] == ["exception"]
    (boom,) = by["workflow.executor boom"]
    assert boom.status.status_code == StatusCode.ERROR
    assert boom.events[0].attributes is not None
    assert boom.events[0].attributes["exception.type"] == "ValueError"
    (step,) = by["workflow.superstep 2"]
    (run,) = by["workflow.run OtelFlaky"]
    for span in (step, run):
        assert span.status.status_code == StatusCode.ERROR
        assert span.events[0].attributes is not None
        assert "no 3" in str(span.events[0].attributes["exception.message"])
    delta = _delta(before, telemetry.counters())
    assert delta["durable_workflows.runs.failed"] == 1
    assert "durable_workflows.runs.completed" not in delta


def test_an_agent_turn_is_a_span_of_its_superstep(telemetry: Telemetry) -> None:
    async def body(client: Any) -> Any:
        run = await client.run(WITH_AGENT, "Tell me a joke")
        return await run.wait_for_completion(timeout=30)

    assert _run([WITH_AGENT], body).text == "Why? Because."
    by = _by_name(telemetry.finished())
    (turn,) = by["workflow.agent_turn OtelJoker"]
    (step,) = by["workflow.superstep 1"]
    assert _parent_id(turn) == step.context.span_id
    assert turn.attributes is not None and turn.attributes["workflow.node_id"] == "OtelJoker"


def _add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_a_tool_using_agent_has_step_and_tool_call_spans(telemetry: Telemetry) -> None:
    from durable_workflows.agents import OpenAIChatClient
    from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply

    def model(body: dict[str, Any]) -> str | ServerReply:
        results = [m for m in body["messages"] if m["role"] == "tool"]
        if results:
            return f"total: {results[-1]['content']}"
        return ServerReply(tool_calls=(("_add", {"a": 2, "b": 3}),))

    with LocalOpenAIServer(model) as server:
        client = OpenAIChatClient("m", api_key="k", base_url=server.base_url, max_retries=0)
        calculator = Agent("OtelCalc", "Use tools.", client, tools=[_add])
        flow = WorkflowBuilder(calculator, name="OtelTools").build()

        async def body(client: Any) -> Any:
            run = await client.run(flow, "2+3?")
            return await run.wait_for_completion(timeout=30)

        assert _run([flow], body).text == "total: 5"
    by = _by_name(telemetry.finished())
    (step,) = by["workflow.superstep 1"]
    model_calls = by["workflow.agent_step OtelCalc"]
    assert len(model_calls) == 2  # asks for the tool, then answers
    (tool,) = by["workflow.tool_call _add"]
    assert {_parent_id(s) for s in [*model_calls, tool]} == {step.context.span_id}
    assert tool.attributes is not None and tool.attributes["workflow.agent"] == "OtelCalc"
    assert {s.context.trace_id for s in [*model_calls, tool]} == {step.context.trace_id}
