"""Processes for the crash tests: a sidecar+worker host, or a worker alone.

Run as ``python tests/sidecar/procs.py host|worker ...``. Activities record each execution
by appending a line to a file in ``--counts``, so tests can count executions across kills.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from durabletask import task
from durabletask import worker as dt_worker
from durabletask.grpc_options import GrpcWorkerResiliencyOptions

COUNTS = Path(".")


def _record(name: str, line: str) -> None:
    with open(COUNTS / f"{name}.log", "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def record(ctx: task.ActivityContext, label: str) -> str:
    _record(label, f"{os.getpid()}")
    return label


def long_step(ctx: task.ActivityContext, seconds: float) -> str:
    _record("long_step.start", f"{os.getpid()}")
    time.sleep(seconds)
    _record("long_step.done", f"{os.getpid()}")
    return "long-done"


def bump(ctx: task.ActivityContext, key: str) -> str:
    _record("bump", key)
    return key


def approval_flow(ctx: task.OrchestrationContext, seconds: float) -> Any:
    """A step, then a human response awaited while a long activity runs, then a last step."""
    yield ctx.call_activity(record, input="before")
    response = ctx.wait_for_external_event("response")
    work = ctx.call_activity(long_step, input=seconds)
    answer, worked = yield task.when_all([response, work])
    yield ctx.call_activity(record, input="after")
    return [answer, worked]


def single_long(ctx: task.OrchestrationContext, seconds: float) -> Any:
    return (yield ctx.call_activity(long_step, input=seconds))


def small_run(ctx: task.OrchestrationContext, key: str) -> Any:
    return (yield ctx.call_activity(bump, input=key))


def _worker(address: str) -> dt_worker.TaskHubGrpcWorker:
    w = dt_worker.TaskHubGrpcWorker(
        host_address=address,
        concurrency_options=dt_worker.ConcurrencyOptions(maximum_thread_pool_workers=32),
        resiliency_options=GrpcWorkerResiliencyOptions(
            reconnect_backoff_base_seconds=0.1, reconnect_backoff_cap_seconds=0.5))
    for orch in (approval_flow, single_long, small_run):
        w.add_orchestrator(orch)
    for act in (record, long_step, bump):
        w.add_activity(act)
    w.start()
    return w


def main() -> int:
    global COUNTS
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["host", "worker"])
    parser.add_argument("--db")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--address")
    parser.add_argument("--counts", required=True)
    parser.add_argument("--lease-seconds", type=float, default=300.0)
    args = parser.parse_args()
    COUNTS = Path(args.counts)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.mode == "host":
        from durable_workflows.sidecar import SqliteSidecar

        sidecar = SqliteSidecar(args.db, port=args.port,
                                lease_seconds=args.lease_seconds).start()
        w = _worker(sidecar.address)
        print(f"ready {sidecar.address}", flush=True)
        stop.wait()
        w.stop()
        sidecar.stop()
    else:
        w = _worker(args.address)
        print("ready", flush=True)
        stop.wait()
        w.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
