"""Crash tests with real processes killed by SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from durabletask import client as dt_client

from .helpers import QUIET, wait_until

ROOT = Path(__file__).resolve().parents[2]
PROCS = Path(__file__).with_name("procs.py")
Status = dt_client.OrchestrationStatus

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start a process that prints a line starting with "ready"/"sidecar listening"."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(("ready", "sidecar listening")), line
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def kill9(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def retry(call: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Call through sidecar restarts: retry while the server is unavailable."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_kill9_host_mid_workflow_then_resume(tmp_path: Path, spawn: Any) -> None:
    """(a) sidecar+worker killed with a pending human response and a running activity."""
    db, counts, port = str(tmp_path / "a.db"), tmp_path / "counts", free_port()
    counts.mkdir()
    host = ["-u", str(PROCS), "host", "--db", db, "--port", str(port), "--counts", str(counts)]
    proc = spawn(*host)
    client = dt_client.TaskHubGrpcClient(host_address=f"localhost:{port}", logger=QUIET)
    iid = client.schedule_new_orchestration("approval_flow", input=3.0, instance_id="run-a")
    wait_until(lambda: lines(counts / "long_step.start.log") != [], timeout=15)
    wait_until(lambda: any(type(e).__name__ == "TaskCompletedEvent"
                           for e in client.get_orchestration_history(iid)), timeout=15)
    kill9(proc)
    assert lines(counts / "long_step.done.log") == []

    spawn(*host)
    retry(lambda: client.raise_orchestration_event(iid, "response", data="approved"))
    state = retry(lambda: client.wait_for_orchestration_completion(iid, timeout=30))
    assert state.runtime_status == Status.COMPLETED
    assert state.get_output() == ["approved", "long-done"]
    assert len(lines(counts / "before.log")) == 1, "a completed activity ran again"
    assert len(lines(counts / "after.log")) == 1
    assert len(lines(counts / "long_step.start.log")) == 2  # interrupted once, re-run once
    assert len(lines(counts / "long_step.done.log")) == 1
    client.close()


@pytest.mark.parametrize("how", ["kill", "hang"])
def test_other_worker_takes_over_activity(tmp_path: Path, spawn: Any, how: str) -> None:
    """(b) two workers; the one holding the activity dies (or hangs until its lease expires)."""
    db, counts, port = str(tmp_path / "b.db"), tmp_path / "counts", free_port()
    counts.mkdir()
    address = f"localhost:{port}"
    spawn("-u", "-m", "durable_workflows.sidecar", "--db", db, "--port", str(port),
          "--lease-seconds", "2", "--log-level", "WARNING")
    first = spawn("-u", str(PROCS), "worker", "--address", address, "--counts", str(counts))
    client = dt_client.TaskHubGrpcClient(host_address=address, logger=QUIET)
    iid = client.schedule_new_orchestration("single_long", input=1.5)
    wait_until(lambda: lines(counts / "long_step.start.log") == [str(first.pid)], timeout=15)
    second = spawn("-u", str(PROCS), "worker", "--address", address, "--counts", str(counts))
    started = time.monotonic()
    if how == "kill":
        kill9(first)
    else:
        os.kill(first.pid, signal.SIGSTOP)
    try:
        state = client.wait_for_orchestration_completion(iid, timeout=30)
    finally:
        if how == "hang":
            kill9(first)
    assert state.runtime_status == Status.COMPLETED
    assert lines(counts / "long_step.done.log") == [str(second.pid)]
    if how == "hang":
        assert time.monotonic() - started >= 2.0  # only after the lease expired
    client.close()


def test_thousand_runs_survive_two_sidecar_kills(tmp_path: Path, spawn: Any) -> None:
    """(c) 1,000 runs; the sidecar is killed and restarted twice while they run."""
    db, counts, port = str(tmp_path / "c.db"), tmp_path / "counts", free_port()
    counts.mkdir()
    address = f"localhost:{port}"
    sidecar_args = ["-u", "-m", "durable_workflows.sidecar", "--db", db, "--port", str(port),
                    "--lease-seconds", "5", "--log-level", "WARNING"]
    sidecar = spawn(*sidecar_args)
    spawn("-u", str(PROCS), "worker", "--address", address, "--counts", str(counts))
    client = dt_client.TaskHubGrpcClient(host_address=address, logger=QUIET)
    ids = [f"run-{i:04d}" for i in range(1000)]

    def schedule(iid: str) -> None:
        try:
            client.schedule_new_orchestration("small_run", input=iid, instance_id=iid)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:  # committed before the kill
                raise

    for n, iid in enumerate(ids):
        retry(lambda iid=iid: schedule(iid))  # type: ignore[misc]
        if n in (350, 700):
            kill9(sidecar)
            sidecar = spawn(*sidecar_args)

    def all_done() -> bool:
        states = retry(lambda: client.get_all_orchestration_states(dt_client.OrchestrationQuery(
            runtime_status=[Status.COMPLETED], fetch_inputs_and_outputs=True)))
        return len(states) == len(ids)

    wait_until(all_done, timeout=240, interval=1.0)
    states = client.get_all_orchestration_states(
        dt_client.OrchestrationQuery(fetch_inputs_and_outputs=True))
    assert sorted(s.instance_id for s in states) == ids
    assert all(s.runtime_status == Status.COMPLETED and s.get_output() == s.instance_id
               for s in states)
    for iid in ids[::50]:
        history = client.get_orchestration_history(iid)
        assert [type(e).__name__ for e in history].count("ExecutionCompletedEvent") == 1
    executions = Counter(lines(counts / "bump.log"))
    assert set(executions) == set(ids)
    print(f"activity re-executions after kills: {sum(executions.values()) - len(ids)}")
    client.close()
