"""Per-superstep cost of long sequential runs on the embedded backend (not a test).

Continue-as-new every few supersteps keeps history, and so replay cost, bounded: the cost per
superstep of a 2,000-superstep run should be about that of a 50-superstep run (ratio < 1.5).

    python bench/chain_scaling.py [--short 50] [--long 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from durable_workflows import DurableWorkflowHost, WorkflowBuilder, WorkflowContext, executor
from durable_workflows.graph.workflow import Workflow


def loop_workflow(name: str, supersteps: int) -> Workflow:
    @executor(id="step")
    def step(x: int, ctx: WorkflowContext[int, int]) -> None:
        if x < supersteps:
            ctx.send_message(x + 1)
        else:
            ctx.yield_output(x)

    return (
        WorkflowBuilder(step, name=name, max_supersteps=supersteps + 10)
        .add_edge(step, step)
        .build()
    )


async def per_superstep(host: DurableWorkflowHost, workflow: Workflow, supersteps: int) -> float:
    started = time.perf_counter()
    run = await host.client.run(workflow, 1)
    result = await run.wait_for_completion()
    elapsed = time.perf_counter() - started
    assert result == supersteps, result
    return elapsed / supersteps


async def main(short: int, long: int, repeat: int) -> None:
    warm = loop_workflow("BenchWarmup", 10)
    small = loop_workflow("BenchShort", short)
    big = loop_workflow("BenchLong", long)
    async with DurableWorkflowHost(workflows=[warm, small, big]) as host:
        await per_superstep(host, warm, 10)
        short_costs, long_costs = [], []
        for _ in range(repeat):  # interleaved, best of `repeat` (the machine may be busy)
            short_costs.append(await per_superstep(host, small, short))
            long_costs.append(await per_superstep(host, big, long))
    short_cost, long_cost = min(short_costs), min(long_costs)
    for n, costs in ((short, short_costs), (long, long_costs)):
        runs = ", ".join(f"{c * 1000:.2f}" for c in costs)
        print(f"{n:>5} supersteps: {min(costs) * 1000:8.2f} ms/superstep (best of [{runs}])")
    print(f"ratio ({long}/{short}): {long_cost / short_cost:.2f} (target < 1.5)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=50)
    parser.add_argument("--long", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.short, args.long, args.repeat))
