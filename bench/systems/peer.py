"""System (c), the peer: agent-framework-durabletask running an agent_framework WorkflowBuilder graph.

Runs with bench/.venv-peer/bin/python (see bench/setup_peer.sh), on the same backend and worker
settings as the floor. Executors do what the floor's activities do: an int increment, and a sum
at the fan-in.
"""

from __future__ import annotations

import time
from typing import Any

from _worker import HITL_IDLE_GAP_S, System, main

try:
    from agent_framework import (
        Executor,
        Workflow,
        WorkflowBuilder,
        WorkflowContext,
        executor,
        handler,
        response_handler,
    )
    from agent_framework_durabletask import DurableAIAgentWorker, DurableWorkflowClient
    from durabletask.client import TaskHubGrpcClient
    from durabletask.worker import TaskHubGrpcWorker
except ImportError as error:
    IMPORT_ERROR: str | None = f"{type(error).__name__}: {error}"
else:
    IMPORT_ERROR = None


def _step(node_id: str, last: bool = False) -> Any:
    """An executor that forwards x + 1, or yields it as the run's output when `last`."""
    if last:

        @executor(id=node_id)
        async def out(x: int, ctx: WorkflowContext[Any, int]) -> None:
            await ctx.yield_output(x + 1)

        return out

    @executor(id=node_id)
    async def step(x: int, ctx: WorkflowContext[int]) -> None:
        await ctx.send_message(x + 1)

    return step


def _chain(n: int) -> Workflow:
    nodes = [_step(f"s{i}", last=i == n - 1) for i in range(n)]
    builder = WorkflowBuilder(name=f"chain{n}", start_executor=nodes[0], max_iterations=n + 5)
    return builder.add_chain(nodes).build() if n > 1 else builder.build()


def _fanout(width: int) -> Workflow:
    @executor(id="sink")
    async def sink(xs: list[int], ctx: WorkflowContext[Any, int]) -> None:
        await ctx.yield_output(sum(xs))

    source = _step("src")
    targets = [_step(f"t{i}") for i in range(width)]
    builder = WorkflowBuilder(name=f"fanout{width}", start_executor=source)
    return builder.add_fan_out_edges(source, targets).add_fan_in_edges(targets, sink).build()


class _Ask(Executor):
    """Asks for an int; its response handler (the next step) yields response + 1."""

    @handler
    async def ask(self, x: int, ctx: WorkflowContext) -> None:
        await ctx.request_info(x, int)

    @response_handler
    async def on_reply(self, request: int, response: int, ctx: WorkflowContext[Any, int]) -> None:
        await ctx.yield_output(response + 1)


def _workflow(scenario: str, size: int) -> Workflow:
    if scenario == "chain":
        return _chain(size)
    if scenario == "fanout":
        return _fanout(size)
    if scenario == "hitl":
        return WorkflowBuilder(name="hitl", start_executor=_Ask(id="ask")).build()
    return _chain(1)


class Peer(System):
    """The peer's `DurableAIAgentWorker` on a `TaskHubGrpcWorker` with the shared settings."""

    async def start(self, cases: list[tuple[str, int]]) -> None:
        self.worker = TaskHubGrpcWorker(
            host_address=self.address,
            concurrency_options=self.spec.concurrency(),
            resiliency_options=self.spec.resiliency(),
        )
        agents = DurableAIAgentWorker(self.worker)
        self.names: dict[tuple[str, int], str] = {}
        for scenario, size in cases:
            workflow = _workflow(scenario, size)
            if workflow.name not in agents.registered_workflow_names:
                agents.configure_workflow(workflow)
            self.names[scenario, size] = workflow.name
        self.worker.start()
        self.grpc = TaskHubGrpcClient(host_address=self.address)
        self.client = DurableWorkflowClient(self.grpc)

    async def stop(self) -> None:
        self.worker.stop()
        self.grpc.close()

    def _wait(self, instance_id: str, name: str, expected: int) -> None:
        output = self.client.await_workflow_output(
            instance_id, workflow_name=name, timeout_seconds=3600
        )
        if output != [expected]:
            raise RuntimeError(f"run {instance_id} returned {output!r}, expected [{expected}]")

    def _run(self, scenario: str, size: int, expected: int) -> None:
        name = self.names[scenario, size]
        self._wait(self.client.start_workflow(0, workflow_name=name), name, expected)

    async def chain(self, n: int) -> None:
        self._run("chain", n, n)

    async def fanout(self, width: int) -> None:
        self._run("fanout", width, 2 * width)

    async def hitl(self) -> float:
        instance_id = self.client.start_workflow(0, workflow_name="hitl")
        while not (pending := self.client.get_pending_hitl_requests(instance_id)):
            time.sleep(0.001)
        time.sleep(HITL_IDLE_GAP_S)
        t0 = time.perf_counter()
        self.client.send_hitl_response(instance_id, pending[0]["request_id"], 1)
        self._wait(instance_id, "hitl", 2)
        return time.perf_counter() - t0

    async def throughput(self, runs: int) -> None:
        name = self.names["throughput", runs]
        ids = [self.client.start_workflow(i, workflow_name=name) for i in range(runs)]
        # One blocking wait at a time: the stock backend's 10 server threads starve at 9.
        for i, instance_id in enumerate(ids):
            self._wait(instance_id, name, i + 1)

    def build(self, n: int) -> None:
        workflow = _chain(n)
        DurableAIAgentWorker(TaskHubGrpcWorker(host_address="localhost:1")).configure_workflow(
            workflow
        )


if __name__ == "__main__":
    main("peer", Peer if IMPORT_ERROR is None else None, IMPORT_ERROR)
