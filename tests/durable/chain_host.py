"""A host running 200 steps on a database file, for kill -9 midway (test_restart).

Usage: python chain_host.py SHAPE DB LOG start     -> starts a run, prints its id, keeps
                                                      running it until killed
       python chain_host.py SHAPE DB LOG finish ID -> finishes the run, prints its result
SHAPE is ``chain`` (200 steps in a row) or ``fan`` (200 in parallel, then their sum). Each step
appends its number to LOG before it returns.
"""

from __future__ import annotations

import asyncio
import sys
import time

from durable_workflows import DurableWorkflowHost, WorkflowBuilder, executor

STEPS = 200


def _step(i: int, log: str, pause: float) -> object:
    @executor(id=f"s{i}")
    def step(x: int) -> int:
        time.sleep(pause)  # so that the test's kill lands midway
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{i}\n")
        return x + 1

    return step


def build(shape: str, log: str) -> object:
    # a chain takes at least 200 x 2 ms; a fan-out, on 8 threads, 200 x 20 / 8 ms
    nodes = [_step(i, log, 0.002 if shape == "chain" else 0.02) for i in range(STEPS)]
    if shape == "chain":
        builder = WorkflowBuilder(nodes[0], name="KillChain", max_supersteps=STEPS + 5)
        return builder.add_chain(nodes).build()

    @executor(id="source")
    def source(x: int) -> int:
        return x

    @executor(id="total")
    def total(xs: list[int]) -> int:
        return sum(xs)

    return (
        WorkflowBuilder(source, name="KillFan")
        .add_fan_out_edge(source, nodes)
        .add_fan_in_barrier_edge(nodes, total)
        .build()
    )


async def start(shape: str, db: str, log: str) -> None:
    workflow = build(shape, log)
    async with DurableWorkflowHost(workflows=[workflow], database=db, max_concurrency=8) as host:
        run = await host.client.run(workflow, 0)
        print(run.run_id, flush=True)
        await run.wait_for_completion()
        while True:
            time.sleep(1)


async def finish(shape: str, db: str, log: str, run_id: str) -> None:
    workflow = build(shape, log)
    async with DurableWorkflowHost(workflows=[workflow], database=db, max_concurrency=8) as host:
        run = await host.client.get_run(run_id)
        print(await asyncio.wait_for(run.wait_for_completion(), 60), flush=True)


if __name__ == "__main__":
    shape_name, db_path, log_path, mode = sys.argv[1:5]
    if mode == "start":
        asyncio.run(start(shape_name, db_path, log_path))
    else:
        asyncio.run(finish(shape_name, db_path, log_path, sys.argv[5]))
