"""The worker protocol of bench/systems/_worker.py for the anchors, standard library only.

The anchors (DBOS, LangGraph) run in venvs of their own, without durabletask, and their APIs
are synchronous. An anchor implements ``chain(n)``, ``fanout(w)``, ``hitl() -> seconds`` and
``throughput(runs)``, plus ``start(cases)`` and ``stop()``; `main` reads the harness's JSON spec
on stdin, warms up once, repeats the case within its budget and prints one JSON record, in the
same shape as `_worker.main`. ``spec["variant"]`` carries the system variant's settings.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import math
import resource
import statistics
import sys
import time
import traceback
from typing import Any

HITL_IDLE_GAP_S = 0.02
"""Pause between "the run waits for input" and sending the response (as in _worker.py)."""


class Unsupported(Exception):
    """The anchor has no equivalent for a scenario."""


class Anchor:
    """One anchor system; a worker process drives one instance through one case."""

    packages: tuple[str, ...] = ()
    """Distributions whose versions go into the record."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.variant: dict[str, Any] = spec.get("variant") or {}
        self.details: dict[str, Any] = {}

    def start(self, cases: list[tuple[str, int]]) -> None:
        """Set up what `cases` need."""

    def stop(self) -> None:
        """Tear down what `start` set up."""

    def build(self, n: int) -> None:
        """No graph builder to compare."""
        raise Unsupported("no graph builder comparable to WorkflowBuilder")


def _once(system: Anchor, scenario: str, size: int) -> list[float]:
    if scenario == "hitl":
        return [system.hitl() for _ in range(size)]
    t0 = time.perf_counter()
    getattr(system, scenario)(size)
    return [time.perf_counter() - t0]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def _measure(system: Anchor, spec: dict[str, Any]) -> dict[str, Any]:
    scenario, size, warmup = spec["scenario"], spec["size"], spec["warmup_size"]
    if scenario == "build":
        system.build(size)
    system.start(sorted({(scenario, warmup), (scenario, size)}))
    try:
        t0 = time.perf_counter()
        _once(system, scenario, warmup)
        warmup_s = time.perf_counter() - t0
        deadline = time.perf_counter() + spec["budget_s"]
        values: list[float] = []
        reps: list[float] = []
        while len(reps) < spec["reps"]:
            t0 = time.perf_counter()
            values += _once(system, scenario, size)
            reps.append(time.perf_counter() - t0)
            if time.perf_counter() + reps[-1] > deadline:
                break
    finally:
        system.stop()
    result = {"status": "ok", "warmup_s": warmup_s, "reps": len(reps), "values_s": values,
              "median_s": statistics.median(values)}
    if scenario == "hitl":
        result["p95_s"] = _percentile(values, 95)
    return result


def main(name: str, factory: type[Anchor]) -> None:
    """Worker entry point: a spec on stdin, one JSON record on stdout, logs on stderr."""
    out, sys.stdout = sys.stdout, sys.stderr
    spec = json.loads(sys.stdin.read())
    system = factory(spec)
    try:
        result = _measure(system, spec)
        result["backend"] = {"kind": "none", **system.details.pop("backend", {})}
        result["details"] = system.details
    except Unsupported as error:
        result = {"status": f"n/a: {error}"}
    except Exception as error:
        traceback.print_exc()
        result = {"status": f"error: {type(error).__name__}: {error}"}
    versions = {}
    for package in factory.packages:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    record = {"system": name, "scenario": spec["scenario"], "size": spec["size"], **result,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "python": sys.version.split()[0], "versions": versions}
    out.write(json.dumps(record) + "\n")
    out.flush()
