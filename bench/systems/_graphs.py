"""This library's benchmark graphs, shared by systems (a) library and (d) in-process.

Each node does what the floor's activities do: an int increment, and a sum at the fan-in.
"""

from __future__ import annotations

from durable_workflows import RequestPort, Workflow, WorkflowBuilder, executor
from durable_workflows.model.executors import FunctionExecutor


def _step(node_id: str) -> FunctionExecutor:
    @executor(id=node_id)
    def step(x: int) -> int:
        return x + 1

    return step


def chain(n: int) -> Workflow:
    """n executors in a row; the output is n."""
    nodes = [_step(f"s{i}") for i in range(n)]
    return (
        WorkflowBuilder(nodes[0], name=f"chain{n}", max_supersteps=n + 5).add_chain(nodes).build()
    )


def fanout(width: int) -> Workflow:
    """One executor, `width` in parallel, then a barrier into a sum; the output is 2 * width."""

    @executor(id="sink")
    def sink(xs: list[int]) -> int:
        return sum(xs)

    source = _step("src")
    targets = [_step(f"t{i}") for i in range(width)]
    return (
        WorkflowBuilder(source, name=f"fanout{width}")
        .add_fan_out_edge(source, targets)
        .add_fan_in_barrier_edge(targets, sink)
        .build()
    )


def hitl() -> Workflow:
    """A request port, then one executor; the output is the response + 1."""
    port = RequestPort("approve", request_type=int, response_type=int)
    after = _step("after")
    return WorkflowBuilder(port, name="hitl").add_edge(port, after).build()


def workflow(scenario: str, size: int) -> Workflow:
    """The graph a case runs (throughput runs a one-executor chain)."""
    if scenario == "chain":
        return chain(size)
    if scenario == "fanout":
        return fanout(size)
    if scenario == "hitl":
        return hitl()
    return chain(1)
