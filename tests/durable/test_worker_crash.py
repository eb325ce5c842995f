"""A worker process killed mid-run; a new worker finishes the run against the same backend."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from durable_workflows import DurableWorkflowHost

from .workflows import crash_workflow

HERE = Path(__file__).resolve().parent
BACKEND = (
    "import time\n"
    "from durable_workflows.sidecar import SqliteSidecar\n"
    "backend = SqliteSidecar().start()\n"
    "print(backend.address, flush=True)\n"
    "while True:\n"
    "    time.sleep(1)\n"
)


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _read_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        raise AssertionError(f"process {proc.pid} exited early (rc={proc.poll()})")
    return line


@pytest.fixture
def backend_address() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", BACKEND], stdout=subprocess.PIPE, text=True)
    try:
        yield _read_line(proc)
    finally:
        _kill(proc)


class Workers:
    def __init__(self, address: str, count_dir: Path) -> None:
        self.address = address
        self.env = {**os.environ, "DW_CRASH_COUNT_DIR": str(count_dir)}
        self.procs: list[subprocess.Popen[str]] = []

    def start(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "crash_worker.py"), self.address],
            stdout=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        self.procs.append(proc)
        assert _read_line(proc) == "ready"
        return proc

    def kill_all(self) -> None:
        for proc in self.procs:
            _kill(proc)


def _count(directory: Path, step: str) -> int:
    path = directory / step
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_worker_killed_while_waiting_for_input(backend_address: str, tmp_path: Path) -> None:
    workflow = crash_workflow("CrashPort", with_port=True)
    workers = Workers(backend_address, tmp_path)
    try:
        first = workers.start()

        async def main() -> Any:
            async with DurableWorkflowHost(
                workflows=[workflow], connection_string=backend_address, mode="client"
            ) as host:
                run = await host.client.run(workflow, 1)
                for _ in range(500):
                    pending = await run.pending_requests()
                    if pending:
                        break
                    await asyncio.sleep(0.02)
                assert pending and pending[0].port_id == "approve"
                _kill(first)  # kill -9 while the run waits for a human
                await asyncio.to_thread(workers.start)
                await run.send_response(pending[0], True)
                return await asyncio.wait_for(run.wait_for_completion(), 60)

        assert asyncio.run(main()) == "done 10"
        assert [_count(tmp_path, s) for s in ("step1", "step2", "step3")] == [1, 1, 1]
    finally:
        workers.kill_all()


def test_worker_killed_during_activity(backend_address: str, tmp_path: Path) -> None:
    workflow = crash_workflow("CrashActivity")
    workers = Workers(backend_address, tmp_path)
    try:
        first = workers.start()

        async def main() -> Any:
            async with DurableWorkflowHost(
                workflows=[workflow], connection_string=backend_address, mode="client"
            ) as host:
                run = await host.client.run(workflow, 1)
                for _ in range(500):
                    if _count(tmp_path, "step2"):
                        break
                    await asyncio.sleep(0.02)
                assert _count(tmp_path, "step2") == 1
                _kill(first)  # kill -9 while step2 runs
                await asyncio.to_thread(workers.start)
                return await asyncio.wait_for(run.wait_for_completion(), 30)

        assert asyncio.run(main()) == "done 20"
        assert _count(tmp_path, "step1") == 1  # completed before the crash: not run again
        assert _count(tmp_path, "step2") == 2  # interrupted by the crash: run again
        assert _count(tmp_path, "step3") == 1
    finally:
        workers.kill_all()
