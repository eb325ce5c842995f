"""Benchmark: the HTTP API of `durable-workflows serve`, over loopback, in a real process.

Two scenarios against one `serve` process (embedded backend, worker and API together):

- **latency**: sequential round trips of a one-approval workflow: ``POST run?wait=`` (until the
  run waits for the approval) then ``POST respond?wait=`` (until the run completed); medians
  and p95 of both, and of a one-step run with ``wait`` (start -> result).
- **load**: `--runs` one-step runs started over HTTP by `--concurrency` clients at once, each
  ``POST run?wait=60``; every run must complete (checked on its answer and by listing the
  runs afterwards). Reports the wall time and runs per second.

    .venv/bin/python bench/http_api.py [--rounds 30] [--runs 500] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from durable_workflows import RequestPort, WorkflowBuilder, executor

ROOT = Path(__file__).resolve().parent.parent


@executor(id="step")
def step(x: int) -> int:
    return x + 1


@executor(id="ask")
def ask(x: int) -> int:
    return x


approve = RequestPort("approve", request_type=int, response_type=bool)


@executor(id="decide")
def decide(ok: bool) -> str:
    return "approved" if ok else "denied"


WORKFLOWS = [
    WorkflowBuilder(step, name="OneStep").build(),
    WorkflowBuilder(ask, name="OneApproval").add_chain([ask, approve, decide]).build(),
]


def start_serve() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "durable_workflows.cli",
            "serve",
            f"{__file__}:WORKFLOWS",
            "--port",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        match = re.search(r"on (http://\S+)", line)
        if match:
            return process, match.group(1)
    raise SystemExit(f"serve did not start (exit {process.wait()})")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"median_ms": round(statistics.median(ms), 2), "p95_ms": round(percentile(ms, 0.95), 2)}


async def latency(http: Any, rounds: int) -> dict[str, Any]:
    run_times, respond_times, one_step = [], [], []
    for i in range(rounds):
        began = time.perf_counter()
        started = await http.post("/api/workflows/OneApproval/run?wait=30", json=i)
        run_times.append(time.perf_counter() - began)
        body = started.json()
        assert body["status"] == "waiting", body
        status = (await http.get(f"/api/workflows/OneApproval/status/{body['runId']}")).json()
        request_id = status["pendingRequests"][0]["requestId"]
        began = time.perf_counter()
        answered = await http.post(
            f"/api/workflows/OneApproval/respond/{body['runId']}?wait=30",
            json={"requestId": request_id, "response": True},
        )
        respond_times.append(time.perf_counter() - began)
        assert answered.json()["status"] == "completed", answered.text
        began = time.perf_counter()
        done = await http.post("/api/workflows/OneStep/run?wait=30", json=i)
        one_step.append(time.perf_counter() - began)
        assert done.json()["result"] == i + 1, done.text
    return {
        "rounds": rounds,
        "run_until_waiting": summary(run_times),
        "respond_until_completed": summary(respond_times),
        "one_step_run_with_wait": summary(one_step),
    }


async def load(http: Any, runs: int, concurrency: int) -> dict[str, Any]:
    gate = asyncio.Semaphore(concurrency)
    marker = f"load-{os.getpid()}-{time.time_ns()}"
    times: list[float] = []

    async def one(i: int) -> str:
        async with gate:
            began = time.perf_counter()
            response = await http.post(
                f"/api/workflows/OneStep/run?runId={marker}-{i}&wait=60", json=i
            )
            times.append(time.perf_counter() - began)
            return str(response.json()["status"])

    began = time.perf_counter()
    statuses = await asyncio.gather(*(one(i) for i in range(runs)))
    wall = time.perf_counter() - began
    url = f"/api/workflows/OneStep/runs?status=completed&limit={min(1000, runs + 100)}"
    listed = (await http.get(url)).json()
    completed = sum(1 for r in listed["runs"] if r["runId"].startswith(marker))
    return {
        "runs": runs,
        "concurrency": concurrency,
        "completed_answers": statuses.count("completed"),
        "completed_listed": completed,
        "wall_s": round(wall, 2),
        "runs_per_s": round(runs / wall, 1),
        "request": summary(times),
    }


async def main_async(args: argparse.Namespace, url: str) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=args.concurrency + 4)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        assert (await http.get("/health")).status_code == 200
        await http.post("/api/workflows/OneStep/run?wait=30", json=0)  # warm up
        results: dict[str, Any] = {"latency": await latency(http, args.rounds)}
        results["load"] = await load(http, args.runs, args.concurrency)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    process, url = start_serve()
    try:
        results = asyncio.run(main_async(args, url))
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(results, indent=2))
    load_result = results["load"]
    if (
        load_result["completed_answers"] != args.runs
        or load_result["completed_listed"] != args.runs
    ):
        raise SystemExit("not every run completed")


if __name__ == "__main__":
    main()
