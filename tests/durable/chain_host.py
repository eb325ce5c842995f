"""A host running a long chain on a database file, for kill -9 at a random step (test_restart).

Usage: python chain_host.py DB LOG start N -> starts a chain of N steps, prints its id, keeps
                                              running it until killed
       python chain_host.py DB LOG finish ID -> finishes the run, prints its result
Each step appends its number to LOG before it returns.
"""

from __future__ import annotations

import asyncio
import sys
import time

from durable_workflows import DurableWorkflowHost, WorkflowBuilder, executor

STEPS = 200


def _step(i: int, log: str) -> object:
    @executor(id=f"s{i}")
    def step(x: int) -> int:
        time.sleep(0.002)  # 200 steps take at least 0.4 s: the test kills the host midway
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{i}\n")
        return x + 1

    return step


def chain(log: str) -> object:
    nodes = [_step(i, log) for i in range(STEPS)]
    return (
        WorkflowBuilder(nodes[0], name="KillChain", max_supersteps=STEPS + 5)
        .add_chain(nodes)
        .build()
    )


async def start(db: str, log: str) -> None:
    workflow = chain(log)
    async with DurableWorkflowHost(workflows=[workflow], database=db) as host:
        run = await host.client.run(workflow, 0)
        print(run.run_id, flush=True)
        await run.wait_for_completion()
        while True:
            time.sleep(1)


async def finish(db: str, log: str, run_id: str) -> None:
    workflow = chain(log)
    async with DurableWorkflowHost(workflows=[workflow], database=db) as host:
        run = await host.client.get_run(run_id)
        print(await asyncio.wait_for(run.wait_for_completion(), 60), flush=True)


if __name__ == "__main__":
    db_path, log_path, mode = sys.argv[1:4]
    if mode == "start":
        asyncio.run(start(db_path, log_path))
    else:
        asyncio.run(finish(db_path, log_path, sys.argv[4]))
