"""Differential: hypothesis-generated DAG workflows give the same outputs durably and in-process.

`dag_specs` draws executors, edges, conditions, fan-outs and fan-ins; `gated_specs` adds issue
15's constructs on top: request ports with timeout routes (some requests answered, by request id
or by a named event, some left to time out).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from durable_workflows import (
    DurableWorkflowHost,
    RequestPort,
    RequestTimedOut,
    WaitingForInputEvent,
    WorkflowBuilder,
    WorkflowContext,
    executor,
)
from durable_workflows.errors import WorkflowFailedError
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.embedded import EmbeddedBackend
from durable_workflows.hosting.verdicts import custom_status
from durable_workflows.testing import NO_RESPONSE, InProcessRunner, run_in_process

_names = itertools.count()

CONDITIONS: dict[str, Callable[[int], bool] | None] = {
    "always": None,
    "even": lambda x: x % 2 == 0,
    "not3": lambda x: x % 3 != 0,
}


def _node(index: int, add: int, mul: int) -> Any:
    @executor(id=f"n{index}")
    def node(x: int | list[int], ctx: WorkflowContext[int, int]) -> None:
        value = sum(x) if isinstance(x, list) else x
        value = value * mul + add
        ctx.yield_output(value)
        ctx.send_message(value)

    return node


@st.composite
def dag_specs(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 6))
    ops = [(draw(st.integers(-3, 5)), draw(st.integers(1, 3))) for _ in range(n)]
    incoming = []
    for i in range(1, n):
        parents = draw(st.lists(st.integers(0, i - 1), min_size=1, max_size=min(3, i), unique=True))
        mode = draw(st.sampled_from(["single", "fanin"])) if len(parents) > 1 else "single"
        conditions = [draw(st.sampled_from(sorted(CONDITIONS))) for _ in parents]
        incoming.append((i, sorted(parents), mode, conditions))
    fan_out = draw(st.booleans())
    return {"n": n, "ops": ops, "incoming": incoming, "fan_out": fan_out}


def _shots(spec: dict[str, Any]) -> list[int]:
    """An upper bound of how often each node runs (a port on an edge from a node that runs
    once gets at most one request)."""
    shots = [1] * spec["n"]
    for i, parents, mode, _ in spec["incoming"]:
        counts = [shots[p] for p in parents]
        shots[i] = min(counts) if mode == "fanin" else sum(counts)
    return shots


@st.composite
def gated_specs(draw: st.DrawFn) -> dict[str, Any]:
    """`dag_specs` plus request ports with timeout routes on some single edges."""
    spec = draw(dag_specs())
    shots = _shots(spec)
    gates = []
    for i, parents, mode, _ in spec["incoming"]:
        if mode == "single" and shots[parents[0]] == 1 and draw(st.booleans()):
            gates.append((parents[0], i))
    spec["gates"] = gates[:2]
    return spec


def _timeout_handler(index: int) -> Any:
    @executor(id=f"t{index}")
    def handler(timed_out: RequestTimedOut[int], ctx: WorkflowContext[int, int]) -> None:
        value = timed_out.request * 10 + 1
        ctx.yield_output(value)
        ctx.send_message(value)

    return handler


def build(spec: dict[str, Any]) -> Workflow:
    nodes = [_node(i, add, mul) for i, (add, mul) in enumerate(spec["ops"])]
    builder = WorkflowBuilder(nodes[0], name=f"Diff{next(_names)}", max_supersteps=50)
    gates = {edge: k for k, edge in enumerate(spec.get("gates", ()))}
    unconditional_from_0 = []
    for i, parents, mode, conditions in spec["incoming"]:
        if mode == "fanin":
            builder.add_fan_in_barrier_edge([nodes[p] for p in parents], nodes[i])
            continue
        for parent, condition in zip(parents, conditions, strict=True):
            if (parent, i) in gates:
                # distinct timeouts, one second apart, so that deadlines never coincide
                timeout = timedelta(seconds=1 + gates[parent, i])
                port = RequestPort(
                    f"p{i}", request_type=int, response_type=int, timeout=timeout
                )
                builder.add_edge(nodes[parent], port, CONDITIONS[condition])
                builder.add_edge(port, nodes[i])
                builder.add_timeout_edge(port, _timeout_handler(i))
                builder.add_edge(f"t{i}", nodes[i])
            elif spec["fan_out"] and parent == 0 and condition == "always":
                unconditional_from_0.append(nodes[i])
            else:
                builder.add_edge(nodes[parent], nodes[i], CONDITIONS[condition])
    if unconditional_from_0:
        builder.add_fan_out_edge(nodes[0], unconditional_from_0)
    return builder.build()


@pytest.fixture(scope="module")
def backend() -> Iterator[EmbeddedBackend]:
    with EmbeddedBackend() as running:
        yield running


async def _durable(address: str, workflow: Workflow, value: int) -> tuple[str, list[Any]]:
    async with DurableWorkflowHost(workflows=[workflow], connection_string=address) as host:
        run = await host.client.run(workflow, value)
        try:
            await asyncio.wait_for(run.wait_for_completion(), 30)
        except WorkflowFailedError as exc:
            return "failed", [str(exc)]
        return "completed", run.outputs


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=dag_specs(), value=st.integers(-20, 20))
def test_durable_matches_in_process(
    backend: EmbeddedBackend, spec: dict[str, Any], value: int
) -> None:
    workflow = build(spec)
    expected = run_in_process(workflow, value)
    status, outputs = asyncio.run(_durable(backend.address, workflow, value))
    assert status == expected.status
    if status == "completed":
        assert outputs == expected.outputs


def answer(request: int) -> Any:
    """The differential reviewer: answers even requests, lets odd ones time out."""
    return request + 100 if request % 2 == 0 else NO_RESPONSE


def in_process_alone(workflow: Workflow, value: int) -> Any:
    """In process, answering a request only when it is the only one open (so that the durable
    run, answered from outside, takes each answer at the same point)."""
    runner: InProcessRunner

    def respond(event: WaitingForInputEvent) -> Any:
        assert runner.state is not None
        return answer(event.request) if len(runner.state.requests) == 1 else NO_RESPONSE

    runner = InProcessRunner(workflow, respond)
    return runner.run(value)


async def _durable_answered(address: str, workflow: Workflow, value: int) -> tuple[str, list[Any]]:
    """Run durably; whenever the run is idle with exactly one open request, answer it."""
    async with DurableWorkflowHost(workflows=[workflow], connection_string=address) as host:
        run = await host.client.run(workflow, value)
        answered: set[str] = set()
        for _ in range(3000):
            state = await host.client.durable_client.get_orchestration_state(
                run.run_id, fetch_payloads=True
            )
            if state.runtime_status.name not in ("RUNNING", "PENDING"):
                break
            custom = custom_status(state)
            requests = custom.get("requests", [])
            pending = await run.pending_requests() if custom.get("idle") else []
            if len(requests) == 1 and len(pending) == 1:
                request = pending[0]
                response = answer(request.request)
                if response is not NO_RESPONSE and request.request_id not in answered:
                    answered.add(request.request_id)
                    if request.request % 4 == 0:  # the named-event way (P10)
                        await run.raise_event(request.port_id, response)
                    else:
                        await run.send_response(request, response)
                    continue
            await asyncio.sleep(0.01)
        try:
            await asyncio.wait_for(run.wait_for_completion(), 30)
        except WorkflowFailedError as exc:
            return "failed", [str(exc)]
        return "completed", run.outputs


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=gated_specs(), value=st.integers(-20, 20))
def test_durable_matches_in_process_with_timeout_routes(
    backend: EmbeddedBackend, spec: dict[str, Any], value: int
) -> None:
    """P8 differential: ports with timeout routes, requests answered or left to time out."""
    workflow = build(spec)
    expected = in_process_alone(workflow, value)
    status, outputs = asyncio.run(_durable_answered(backend.address, workflow, value))
    assert status == expected.status
    if status == "completed":
        assert outputs == expected.outputs
