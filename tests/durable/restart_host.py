"""One process hosting backend, worker and client on a database file (for test_restart).

Usage: python restart_host.py DB start     -> starts a run, prints its id, waits forever
       python restart_host.py DB finish ID -> answers the run's request, prints its result
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workflows import crash_workflow

from durable_workflows import DurableWorkflowHost

WORKFLOW = crash_workflow("RestartFlow", with_port=True)


async def start(db: str) -> None:
    async with DurableWorkflowHost(workflows=[WORKFLOW], database=db) as host:
        run = await host.client.run(WORKFLOW, 1)
        while not await run.pending_requests():
            await asyncio.sleep(0.02)
        print(run.run_id, flush=True)
        while True:
            time.sleep(1)  # blocks the loop on purpose: the test kills this process


async def finish(db: str, run_id: str) -> None:
    async with DurableWorkflowHost(workflows=[WORKFLOW], database=db) as host:
        run = await host.client.get_run(run_id)
        pending = await run.pending_requests()
        await run.send_response(pending[0], True)
        print(await asyncio.wait_for(run.wait_for_completion(), 60), flush=True)


if __name__ == "__main__":
    if sys.argv[2] == "start":
        asyncio.run(start(sys.argv[1]))
    else:
        asyncio.run(finish(sys.argv[1], sys.argv[3]))
