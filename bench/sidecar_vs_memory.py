"""Benchmark: the SQLite sidecar against durabletask's in-memory backend.

Same worker, client and orchestrations on every backend. Each backend is measured in a fresh
process together with its worker and client (the last one runs the sidecar as a process of
its own), and rounds alternate the backends so that host noise hits them alike. Prints
medians and ratios.

    .venv/bin/python bench/sidecar_vs_memory.py [--rounds 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from durabletask import client as dt_client
from durabletask import task
from durabletask import worker as dt_worker
from durabletask.testing import InMemoryOrchestrationBackend

from durable_workflows.sidecar import SqliteSidecar

QUIET = logging.getLogger("bench.quiet")
QUIET.setLevel(logging.ERROR)
logging.getLogger("durable_workflows.sidecar").setLevel(logging.ERROR)
logging.getLogger("durabletask.testing.in_memory_backend").setLevel(logging.ERROR)


def add_one(ctx: task.ActivityContext, x: int) -> int:
    return x + 1


def chain(ctx: task.OrchestrationContext, n: int) -> Any:
    value = 0
    for _ in range(n):
        value = yield ctx.call_activity(add_one, input=value)
    return value


def fan_out(ctx: task.OrchestrationContext, n: int) -> Any:
    return sum((yield task.when_all([ctx.call_activity(add_one, input=i) for i in range(n)])))


def echo(ctx: task.OrchestrationContext, _: Any) -> Any:
    return (yield ctx.wait_for_external_event("ping"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return int(s.getsockname()[1])


@contextmanager
def memory_backend() -> Iterator[str]:
    port = _free_port()
    backend = InMemoryOrchestrationBackend(port=port)
    backend.start()
    try:
        yield f"localhost:{port}"
    finally:
        backend.stop()


@contextmanager
def sqlite_file_backend() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp, \
            SqliteSidecar(os.path.join(tmp, "bench.db")) as sc:
        yield sc.address


@contextmanager
def sqlite_process_backend() -> Iterator[str]:
    """The sidecar as its own process (``python -m durable_workflows.sidecar``)."""
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "durable_workflows.sidecar", "--db",
             os.path.join(tmp, "bench.db"), "--port", str(port), "--log-level", "ERROR"],
            stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            proc.stdout.readline()  # "sidecar listening on ..."
            yield f"localhost:{port}"
        finally:
            proc.terminate()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


@contextmanager
def sqlite_memory_backend() -> Iterator[str]:
    with SqliteSidecar(":memory:") as sc:
        yield sc.address


def run_chain(client: Any) -> float:
    t0 = time.perf_counter()
    iid = client.schedule_new_orchestration(chain, input=50)
    assert client.wait_for_orchestration_completion(iid, timeout=120).get_output() == 50
    return time.perf_counter() - t0


def run_fan_out(client: Any) -> float:
    t0 = time.perf_counter()
    iid = client.schedule_new_orchestration(fan_out, input=100)
    assert client.wait_for_orchestration_completion(iid, timeout=120).get_output() == 5050
    return time.perf_counter() - t0


def run_event(client: Any) -> float:
    """Median of 10 raise-event -> completion-visible round trips."""
    trips = []
    for _ in range(10):
        iid = client.schedule_new_orchestration(echo)
        client.wait_for_orchestration_start(iid, timeout=30)
        time.sleep(0.02)
        t0 = time.perf_counter()
        client.raise_orchestration_event(iid, "ping", data=1)
        client.wait_for_orchestration_completion(iid, timeout=30)
        trips.append(time.perf_counter() - t0)
    return statistics.median(trips)


SCENARIOS: dict[str, Callable[[Any], float]] = {
    "chain of 50 activities": run_chain,
    "fan-out of 100 activities": run_fan_out,
    "external-event round trip": run_event,
}
BACKENDS = {
    "in-memory": memory_backend,
    "sqlite file": sqlite_file_backend,
    "sqlite :memory:": sqlite_memory_backend,
    "sqlite file, own process": sqlite_process_backend,
}


@contextmanager
def connected(backend: Callable[[], Any]) -> Iterator[Any]:
    """A running backend with a worker, yielding a client."""
    with backend() as address:
        w = dt_worker.TaskHubGrpcWorker(
            host_address=address, logger=QUIET,
            concurrency_options=dt_worker.ConcurrencyOptions(maximum_thread_pool_workers=16))
        for orch in (chain, fan_out, echo):
            w.add_orchestrator(orch)
        w.add_activity(add_one)
        w.start()
        client = dt_client.TaskHubGrpcClient(host_address=address, logger=QUIET)
        try:
            for scenario in SCENARIOS.values():
                scenario(client)  # warm-up
            yield client
        finally:
            client.close()
            w.stop()


def run_child(backend: str, repeat: int) -> dict[str, list[float]]:
    """Measure one backend in this process: ``repeat`` samples per scenario."""
    samples: dict[str, list[float]] = {s: [] for s in SCENARIOS}
    with connected(BACKENDS[backend]) as client:
        for _ in range(repeat):
            for name, scenario in SCENARIOS.items():
                samples[name].append(scenario(client))
    return samples


def measure(rounds: int, repeat: int) -> dict[str, dict[str, float]]:
    """Medians per backend and scenario.

    Each backend runs in a fresh process, so backends never share a GIL; rounds alternate
    the backends so that host noise hits them alike.
    """
    samples: dict[str, dict[str, list[float]]] = {
        b: {s: [] for s in SCENARIOS} for b in BACKENDS}
    for _ in range(rounds):
        for backend in BACKENDS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", backend, "--repeat", str(repeat)],
                check=True, capture_output=True, text=True).stdout
            for scenario, values in json.loads(out).items():
                samples[backend][scenario].extend(values)
    return {b: {s: statistics.median(v) for s, v in per.items()} for b, per in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="samples per round")
    parser.add_argument("--child", choices=list(BACKENDS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.repeat)))
        return
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, median of {args.rounds * args.repeat} runs "
          f"({args.rounds} alternating rounds of {args.repeat})\n")
    table = measure(args.rounds, args.repeat)
    base = table["in-memory"]
    others = [b for b in BACKENDS if b != "in-memory"]
    print("| scenario | " + " | ".join(BACKENDS) + " | "
          + " | ".join(f"{b} / in-memory" for b in others) + " |")
    print("|" + "---|" * (1 + len(BACKENDS) + len(others)))
    for scenario in SCENARIOS:
        cells = " | ".join(f"{table[b][scenario] * 1000:.1f} ms" for b in BACKENDS)
        ratios = " | ".join(f"{table[b][scenario] / base[scenario]:.2f}x" for b in others)
        print(f"| {scenario} | {cells} | {ratios} |")


if __name__ == "__main__":
    main()
