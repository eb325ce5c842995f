"""What every system's worker process shares: the backend, the worker settings, the timing loop.

A worker process measures one case (one scenario at one size) for one system. It reads a JSON
spec on stdin, prints one JSON result on stdout, and writes its logs to stderr. It imports only
the standard library and durabletask at module level, so it runs in the main venv and in the
peer's venv alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import math
import resource
import socket
import statistics
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, TextIO

import grpc
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.testing import InMemoryOrchestrationBackend
from durabletask.worker import ConcurrencyOptions, GrpcWorkerResiliencyOptions

SCENARIOS = ("chain", "fanout", "hitl", "throughput", "build")
"""Scenario names, in the order the harness runs them."""

HITL_IDLE_GAP_S = 0.02
"""Pause between "the run waits for input" and sending the response, so the worker is idle."""

PACKAGES = (
    "durabletask",
    "durabletask.azuremanaged",
    "grpcio",
    "protobuf",
    "durable_workflows",
    "agent-framework-core",
    "agent-framework-durabletask",
)


class Unsupported(Exception):
    """Raised by a system for a scenario it has no equivalent for (e.g. no graph builder)."""


@dataclass(frozen=True)
class Spec:
    """One case for one worker process, as sent by bench/run.py."""

    scenario: str
    size: int
    warmup_size: int
    reps: int
    budget_s: float
    backend: str = "stock"
    max_history_size: int = 10_000
    server_threads: int = 10
    thread_pool_workers: int = 6
    max_work_items: int = 200
    variant: dict[str, Any] = field(default_factory=dict)
    """The system variant's own settings (bench/run.py VARIANTS); with ``embedded`` the
    system runs its own backend instead of the harness's."""

    def concurrency(self) -> ConcurrencyOptions:
        """The worker concurrency every system gets (durabletask's defaults on 2 CPUs)."""
        return ConcurrencyOptions(
            maximum_concurrent_activity_work_items=self.max_work_items,
            maximum_concurrent_orchestration_work_items=self.max_work_items,
            maximum_concurrent_entity_work_items=self.max_work_items,
            maximum_thread_pool_workers=self.thread_pool_workers,
        )

    @staticmethod
    def resiliency() -> GrpcWorkerResiliencyOptions:
        """No idle-stream detector: the in-memory backend sends no health pings."""
        return GrpcWorkerResiliencyOptions(silent_disconnect_timeout_seconds=0)

    def worker_settings(self) -> dict[str, Any]:
        """The worker settings, for the results file."""
        return {
            "maximum_concurrent_activity_work_items": self.max_work_items,
            "maximum_concurrent_orchestration_work_items": self.max_work_items,
            "maximum_concurrent_entity_work_items": self.max_work_items,
            "maximum_thread_pool_workers": self.thread_pool_workers,
            "silent_disconnect_timeout_seconds": 0,
        }


class _FixedBackend(InMemoryOrchestrationBackend):
    """The in-memory backend with its two defects fixed (as the library's embedded backend does).

    The gRPC server gets `server_threads` threads instead of a hard-coded 10, and every enqueue
    wakes the dispatcher, which otherwise sleeps 100 ms when results arrive mid-episode.
    """

    def __init__(self, *, port: int, max_history_size: int, server_threads: int) -> None:
        super().__init__(max_history_size=max_history_size, port=port)
        self._server_threads = server_threads

    def start(self) -> str:
        self._shutdown_event.clear()
        server = grpc.server(ThreadPoolExecutor(max_workers=self._server_threads))
        stubs.add_TaskHubSidecarServiceServicer_to_server(self, server)  # type: ignore[no-untyped-call]
        server.add_insecure_port(f"127.0.0.1:{self._port}")
        server.start()
        self._server = server
        return f"localhost:{self._port}"

    def _enqueue_orchestration(self, instance_id: str) -> None:
        super()._enqueue_orchestration(instance_id)
        self._work_available.set()


def free_port() -> int:
    """A TCP port that was free a moment ago (the backend cannot bind port 0 and report it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_backend(spec: Spec) -> tuple[InMemoryOrchestrationBackend, str, dict[str, Any]]:
    """Start the in-process backend the spec asks for; return it, its address and a description."""
    port = free_port()
    if spec.backend == "stock":
        backend = InMemoryOrchestrationBackend(max_history_size=spec.max_history_size, port=port)
        threads = 10
    elif spec.backend == "fixed":
        backend = _FixedBackend(
            port=port, max_history_size=spec.max_history_size, server_threads=spec.server_threads
        )
        threads = spec.server_threads
    else:
        raise ValueError(f"unknown backend {spec.backend!r}; use 'stock' or 'fixed'")
    address = backend.start()
    info = {
        "kind": spec.backend,
        "class": "durabletask.testing.InMemoryOrchestrationBackend"
        + (" (+ bench fixes)" if spec.backend == "fixed" else ""),
        "max_history_size": spec.max_history_size,
        "server_threads": threads,
        "address": address,
    }
    return backend, address, info


class System:
    """One benchmarked system; a worker process drives one instance through one case.

    `start` receives the (scenario, size) pairs it will be asked to run, so systems that must
    register orchestrations or graphs before their worker starts can do so.
    """

    uses_backend: ClassVar[bool] = True

    def __init__(self, spec: Spec, address: str | None) -> None:
        self.spec = spec
        self.address = address
        self.details: dict[str, Any] = {}

    async def start(self, cases: list[tuple[str, int]]) -> None:
        """Register what `cases` need and start the worker and client; default: nothing."""

    async def stop(self) -> None:
        """Stop what `start` started; default: nothing."""

    async def chain(self, n: int) -> None:
        """Run an n-step sequential chain to completion."""
        raise Unsupported("no sequential chain")

    async def fanout(self, width: int) -> None:
        """Run: one step, `width` parallel steps, one step taking their list."""
        raise Unsupported("no fan-out/fan-in")

    async def hitl(self) -> float:
        """One run that waits for input; return seconds from response sent to run completed."""
        raise Unsupported("no human-input wait")

    async def throughput(self, runs: int) -> None:
        """Start `runs` one-step runs at once and wait until all have completed."""
        raise Unsupported("no concurrent runs")

    def build(self, n: int) -> None:
        """Define, build, validate and compile an n-node graph."""
        raise Unsupported("no graph builder")


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


async def _once(system: System, scenario: str, size: int) -> list[float]:
    """Run one repetition; return its measurements in seconds."""
    if scenario == "hitl":
        return [await system.hitl() for _ in range(size)]
    t0 = time.perf_counter()
    if scenario == "chain":
        await system.chain(size)
    elif scenario == "fanout":
        await system.fanout(size)
    elif scenario == "throughput":
        await system.throughput(size)
    elif scenario == "build":
        system.build(size)
    else:
        raise ValueError(f"unknown scenario {scenario!r}")
    return [time.perf_counter() - t0]


async def measure(system: System, spec: Spec) -> dict[str, Any]:
    """Warm up once at the warm-up size, then repeat the case until reps or budget run out."""
    cases = [(spec.scenario, spec.warmup_size), (spec.scenario, spec.size)]
    hosted = spec.scenario != "build"
    if hosted:
        await system.start(sorted(set(cases)))
    try:
        t0 = time.perf_counter()
        await _once(system, spec.scenario, spec.warmup_size)
        warmup_s = time.perf_counter() - t0
        deadline = time.perf_counter() + spec.budget_s
        values: list[float] = []
        rep_s: list[float] = []
        while len(rep_s) < spec.reps:
            t0 = time.perf_counter()
            values += await _once(system, spec.scenario, spec.size)
            rep_s.append(time.perf_counter() - t0)
            if time.perf_counter() + rep_s[-1] > deadline:
                break
    finally:
        if hosted:
            await system.stop()
    result: dict[str, Any] = {
        "status": "ok",
        "warmup_s": warmup_s,
        "reps": len(rep_s),
        "values_s": values,
        "median_s": statistics.median(values),
    }
    if spec.scenario == "hitl":
        result["p95_s"] = _percentile(values, 95)
    return result


def _versions() -> dict[str, str]:
    versions = {}
    for package in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    return versions


def _emit(out: TextIO, spec: Spec, system: str, result: dict[str, Any]) -> None:
    record = {"system": system, "scenario": spec.scenario, "size": spec.size, **result}
    record["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record["python"] = sys.version.split()[0]
    record["versions"] = _versions()
    out.write(json.dumps(record) + "\n")
    out.flush()


def main(name: str, factory: type[System] | None, unavailable: str | None = None) -> None:
    """Worker entry point: read a spec on stdin, measure it, print one JSON line on stdout.

    `factory` is None when the system cannot be imported; `unavailable` then says why.
    """
    out, sys.stdout = sys.stdout, sys.stderr
    spec = Spec(**json.loads(sys.stdin.read()))
    if factory is None:
        _emit(out, spec, name, {"status": f"unavailable: {unavailable}"})
        return
    backend = None
    try:
        address = None
        info: dict[str, Any] = {"kind": "none"}
        if factory.uses_backend and spec.scenario != "build" and "embedded" not in spec.variant:
            backend, address, info = start_backend(spec)
        system = factory(spec, address)
        result = asyncio.run(measure(system, spec))
        result["backend"] = {**info, **system.details.pop("backend", {})}
        result["worker"] = system.details.pop("worker", spec.worker_settings() if address else None)
    except Unsupported as error:
        result = {"status": f"n/a: {error}"}
    except Exception as error:
        traceback.print_exc()
        result = {"status": f"error: {type(error).__name__}: {error}"}
    finally:
        if backend is not None:
            backend.stop(grace=0)
    _emit(out, spec, name, result)
