"""One process hosting backend, worker and client on a database file (for test_delay_restart).

Usage: python delay_host.py DB start     -> starts a run, prints its id once its delay runs,
                                            then waits forever
       python delay_host.py DB finish ID -> waits for the run to end, prints its result
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workflows import delayed

from durable_workflows import DurableWorkflowHost

WORKFLOW = delayed("DelayRestart", timedelta(seconds=3))


async def start(db: str) -> None:
    async with DurableWorkflowHost(workflows=[WORKFLOW], database=db) as host:
        run = await host.client.run(WORKFLOW, 1)
        while (await run.get_status()).superstep < 2:
            await asyncio.sleep(0.02)
        print(run.run_id, flush=True)
        while True:
            time.sleep(1)  # blocks the loop on purpose: the test kills this process


async def finish(db: str, run_id: str) -> None:
    async with DurableWorkflowHost(workflows=[WORKFLOW], database=db) as host:
        run = await host.client.get_run(run_id)
        print(await asyncio.wait_for(run.wait_for_completion(), 60), flush=True)


if __name__ == "__main__":
    if sys.argv[2] == "start":
        asyncio.run(start(sys.argv[1]))
    else:
        asyncio.run(finish(sys.argv[1], sys.argv[3]))
