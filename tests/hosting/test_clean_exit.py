"""A host that stops normally finishes the work it handed out: no redelivery warning."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from durabletask.client import TaskHubGrpcClient

from durable_workflows.sidecar import SqliteSidecar

SCRIPT = """
import asyncio, sys
from durable_workflows import DurableWorkflowHost, RequestPort, WorkflowBuilder, executor


@executor
def start(x: str) -> str:
    return x


approve = RequestPort("Approve", request_type=str, response_type=bool)


@executor
def done(ok: bool) -> str:
    return "approved" if ok else "denied"


workflow = WorkflowBuilder(start, name="Resume").add_chain([start, approve, done]).build()


async def first() -> None:
    async with DurableWorkflowHost(workflow, database="runs.db") as host:
        run = await host.client.stream(workflow, "a", run_id="r1")
        while not await run.pending_requests():
            await asyncio.sleep(0.02)


async def second() -> None:
    async with DurableWorkflowHost(workflow, database="runs.db") as host:
        run = await host.client.get_run("r1")
        [request] = await run.pending_requests()
        await run.send_response(request, True)
        print(await run.wait_for_completion())


asyncio.run(first() if sys.argv[1] == "first" else second())
"""


def test_a_resumed_run_exits_without_a_redelivery_warning(tmp_path: Path) -> None:
    (tmp_path / "resume.py").write_text(textwrap.dedent(SCRIPT))
    for part in ("first", "second"):
        done = subprocess.run(
            [sys.executable, "resume.py", part], cwd=tmp_path,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "closed holding" not in done.stderr
        assert done.stderr == ""
    assert done.stdout == "approved\n"


def test_wait_idle_waits_for_work_handed_out() -> None:
    with SqliteSidecar() as sidecar:
        assert sidecar.wait_idle(0)
        client = TaskHubGrpcClient(host_address=sidecar.address)
        try:
            client.schedule_new_orchestration("nobody_serves_this", instance_id="i1")
        finally:
            client.close()
        assert not sidecar.wait_idle(0.2)  # ready, and no worker to take it
