"""Differential: hypothesis-generated DAG workflows give the same outputs durably and in-process."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from durable_workflows import DurableWorkflowHost, WorkflowBuilder, WorkflowContext, executor
from durable_workflows.errors import WorkflowFailedError
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.embedded import EmbeddedBackend
from durable_workflows.testing import run_in_process

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


def build(spec: dict[str, Any]) -> Workflow:
    nodes = [_node(i, add, mul) for i, (add, mul) in enumerate(spec["ops"])]
    builder = WorkflowBuilder(nodes[0], name=f"Diff{next(_names)}", max_supersteps=50)
    unconditional_from_0 = []
    for i, parents, mode, conditions in spec["incoming"]:
        if mode == "fanin":
            builder.add_fan_in_barrier_edge([nodes[p] for p in parents], nodes[i])
            continue
        for parent, condition in zip(parents, conditions, strict=True):
            if spec["fan_out"] and parent == 0 and condition == "always":
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
