"""Benchmark harness: every scenario for every system, one worker process per case.

    .venv/bin/python bench/run.py [--quick] [--systems a,b,c,d] [--scenarios chain,...] [--reps N]

Systems: (a) library, this library on Durable Task; (b) floor, hand-written durabletask
orchestrations; (c) peer, agent-framework-durabletask (its own venv, bench/setup_peer.sh);
(d) inprocess, this library's in-process runner. Each case (system, scenario, size) runs in a
fresh process (bench/systems/<system>.py) with its own in-memory backend on a free port, one
warm-up run at a small size, then up to --reps timed runs within the per-case budget. Prints
a table of medians and ratios and writes the raw figures to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MAIN_PYTHON = ROOT / ".venv" / "bin" / "python"
PEER_PYTHON = BENCH / ".venv-peer" / "bin" / "python"

SYSTEMS = {"a": "library", "b": "floor", "c": "peer", "d": "inprocess"}
"""Letter -> worker module in bench/systems; the table shows them in this order."""
LABELS = {
    "library": "library (a)",
    "floor": "floor (b)",
    "peer": "peer (c)",
    "inprocess": "in-proc (d)",
}

SCENARIOS = ("chain", "fanout", "hitl", "throughput", "build")
SIZES = {
    "full": {"chain": [50, 500, 2000], "fanout": [10, 100, 1000], "hitl": [20],
             "throughput": [500], "build": [10_000]},
    "quick": {"chain": [50, 200], "fanout": [10, 100], "hitl": [20],
              "throughput": [100], "build": [10_000]},
    "smoke": {"chain": [3], "fanout": [2], "hitl": [2], "throughput": [3], "build": [10]},
}  # fmt: skip
"""Sizes per mode: chain length, fan-out width, HITL round trips per rep, runs, graph nodes."""
WARMUP = {"chain": 10, "fanout": 10, "hitl": 3, "throughput": 10, "build": 100}
"""Warm-up size per scenario (capped at the case's size): warms imports, channels, threads."""
GROWTH = {"chain": 2.0, "fanout": 1.0}
"""Exponent used to extrapolate a run's time from the previous size (the floor's chain is
quadratic), to skip a case that would not fit its budget without starting it."""
KILL_GRACE_S = 120.0
"""A worker is killed this long after its budget (startup, warm-up and one overrun)."""


@dataclass(frozen=True)
class Settings:
    """What every worker gets, the same for every system (written to the results)."""

    backend: str
    reps: int
    budget_s: float
    max_history_size: int = 10_000
    server_threads: int = 64
    thread_pool_workers: int = 6
    max_work_items: int = 200


def machine() -> dict[str, Any]:
    """CPU, cores, memory, OS, Python and load, for the results file."""
    cpu = platform.processor()
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if "model name" in line), cpu)
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024**2, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_avg_at_start": os.getloadavg(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def python_for(system: str) -> Path | None:
    """The interpreter a system's worker runs with, or None if it is not installed."""
    if system == "peer":
        return PEER_PYTHON if PEER_PYTHON.exists() else None
    return MAIN_PYTHON if MAIN_PYTHON.exists() else Path(sys.executable)


def run_case(system: str, scenario: str, size: int, settings: Settings) -> dict[str, Any]:
    """Run one case in a fresh worker process and return its JSON record."""
    base = {"system": system, "scenario": scenario, "size": size}
    python = python_for(system)
    if python is None:
        return {**base, "status": "unavailable: bench/.venv-peer missing; run bench/setup_peer.sh"}
    spec = {
        "scenario": scenario,
        "size": size,
        "warmup_size": min(size, WARMUP[scenario]),
        **asdict(settings),
    }
    limit = settings.budget_s + KILL_GRACE_S
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(python), str(BENCH / "systems" / f"{system}.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(json.dumps(spec), timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {**base, "status": f"skipped: over budget (killed after {limit:.0f} s)"}
    wall = time.perf_counter() - started
    lines = out.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = " | ".join(err.strip().splitlines()[-3:])
        return {**base, "status": f"error: worker exited {proc.returncode}: {tail}"}
    return {**json.loads(lines[-1]), **base, "process_wall_s": wall}


def over_budget(previous: dict[str, Any] | None, size: int, budget_s: float) -> str | None:
    """A skip reason if the previous size's median, extrapolated, would not fit the budget."""
    if previous is None:
        return None
    if previous["status"].startswith("skipped"):
        return f"skipped: over budget (size {previous['size']} was)"
    if previous["status"] != "ok" or previous["scenario"] not in GROWTH:
        return None
    estimate = previous["median_s"] * (size / previous["size"]) ** GROWTH[previous["scenario"]]
    if estimate > budget_s:
        return f"skipped: over budget (about {estimate:.0f} s per run > {budget_s:.0f} s)"
    return None


# -- the table ------------------------------------------------------------------------------


def _value(record: dict[str, Any] | None, metric: str) -> float | None:
    if record is None or record.get("status") != "ok":
        return None
    if metric == "per_step_ms":
        return float(record["median_s"]) / record["size"] * 1000
    if metric == "runs_per_s":
        return record["size"] / float(record["median_s"])
    if metric == "p95_ms":
        return float(record["p95_s"]) * 1000
    if metric == "median_ms":
        return float(record["median_s"]) * 1000
    if metric == "rss_mb":
        return float(record["peak_rss_mb"])
    return float(record["median_s"])


def _cell(record: dict[str, Any] | None, metric: str) -> str:
    value = _value(record, metric)
    if value is not None:
        return f"{value:.3g}" if value < 1000 else f"{value:.0f}"
    if record is None:
        return "-"
    return record["status"].split(":")[0]


def _ratio(x: float | None, y: float | None, metric: str) -> str:
    """x's time over y's (for runs/s the inverse): above 1 means x is slower."""
    if x is None or y is None or x == 0 or y == 0:
        return "-"
    return f"{(y / x if metric == 'runs_per_s' else x / y):.2f}"


RATIOS = (("library", "floor"), ("library", "peer"), ("peer", "floor"), ("inprocess", "floor"))
METRICS = {
    "chain": [("total s", "s"), ("per step ms", "per_step_ms")],
    "fanout": [("total s", "s")],
    "hitl": [("median ms", "median_ms"), ("p95 ms", "p95_ms")],
    "throughput": [("runs/s", "runs_per_s")],
    "build": [("build s", "s")],
}


def table(records: list[dict[str, Any]], systems: list[str]) -> str:
    """A Markdown table of medians and time ratios, plus peak RSS for the largest sizes."""
    by_case = {(r["system"], r["scenario"], r["size"]): r for r in records}
    ratios = [(x, y) for x, y in RATIOS if x in systems and y in systems]
    head = ["scenario", "metric", *(LABELS[s] for s in systems)]
    letter = {name: key for key, name in SYSTEMS.items()}
    head += [f"{letter[x]}/{letter[y]}" for x, y in ratios]
    rows = [head, ["---"] * len(head)]
    cases = sorted({(r["scenario"], r["size"]) for r in records}, key=_case_order)
    largest = {sc: max(n for s, n in cases if s == sc) for sc, _ in cases}
    for scenario, size in cases:
        metrics = list(METRICS[scenario])
        if scenario in ("chain", "fanout") and size == largest[scenario]:
            metrics.append(("peak RSS MB", "rss_mb"))
        for label, metric in metrics:
            row = [f"{scenario} {size}", label]
            row += [_cell(by_case.get((s, scenario, size)), metric) for s in systems]
            row += [
                _ratio(
                    _value(by_case.get((x, scenario, size)), metric),
                    _value(by_case.get((y, scenario, size)), metric),
                    metric,
                )
                for x, y in ratios
            ]
            rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def _case_order(case: tuple[str, int]) -> tuple[int, int]:
    return SCENARIOS.index(case[0]), case[1]


def targets(records: list[dict[str, Any]]) -> list[str]:
    """The issue's targets for the library, as far as this run measured them."""
    by_case = {(r["system"], r["scenario"], r["size"]): r for r in records}

    def val(system: str, scenario: str, size: int, metric: str = "s") -> float | None:
        return _value(by_case.get((system, scenario, size)), metric)

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "MISSED")

    lines = []
    for scenario, size in (("chain", 50), ("fanout", 100)):
        a, b = val("library", scenario, size), val("floor", scenario, size)
        ratio = a / b if a and b else None
        shown = f"{ratio:.2f}" if ratio else "-"
        lines.append(
            f"library/floor on {scenario} {size} <= 1.2: {shown} "
            f"{verdict(None if ratio is None else ratio <= 1.2)}"
        )
    chains = sorted(n for s, sc, n in by_case if s == "library" and sc == "chain")
    if chains:
        lo = val("library", "chain", chains[0], "per_step_ms")
        hi = val("library", "chain", chains[-1], "per_step_ms")
        growth = hi / lo if lo and hi and len(chains) > 1 else None
        lines.append(
            f"library per-step chain {chains[-1]} / chain {chains[0]} <= 1.5: "
            f"{f'{growth:.2f}' if growth else '-'} "
            f"{verdict(None if growth is None else growth <= 1.5)}"
        )
    both = [
        (sc, n, a / c)
        for (s, sc, n), r in by_case.items()
        if s == "library"
        and sc != "build"
        and (a := val("library", sc, n))
        and (c := val("peer", sc, n))
    ]
    if both:
        worst = max(both, key=lambda t: t[2])
        lines.append(
            f"library/peer <= 0.5 on every shared scenario: worst {worst[2]:.2f} "
            f"({worst[0]} {worst[1]}) {verdict(worst[2] <= 0.5)}"
        )
    else:
        lines.append("library/peer <= 0.5 on every shared scenario: not measured")
    builds = [n for s, sc, n in by_case if s == "library" and sc == "build"]
    t = val("library", "build", max(builds)) if builds else None
    lines.append(
        f"library build+validate+compile {max(builds) if builds else 10_000} nodes "
        f"< 1 s: {f'{t:.2f} s' if t else '-'} {verdict(None if t is None else t < 1)}"
    )
    return lines


# -- command line ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes, tighter budget")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, 1 rep (for tests)")
    parser.add_argument("--systems", default="a,b,c,d", help="letters or names, e.g. b,c")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--reps", type=int, help="timed runs per case (default 3, smoke 1)")
    parser.add_argument(
        "--budget", type=float, help="seconds per case and system (default 300, quick 60, smoke 30)"
    )
    parser.add_argument(
        "--backend",
        choices=("stock", "fixed"),
        default="stock",
        help="stock: durabletask's in-memory backend as shipped; fixed: with "
        "the thread-pool and wake-up fixes the library's embedded backend has",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "latest.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    args = parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    systems = [SYSTEMS.get(s.strip(), s.strip()) for s in args.systems.split(",")]
    scenarios = [s.strip() for s in args.scenarios.split(",")]
    unknown = [s for s in systems if s not in SYSTEMS.values()]
    unknown += [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        print(f"unknown system or scenario: {', '.join(unknown)}", file=sys.stderr)
        return 2
    systems = [s for s in SYSTEMS.values() if s in systems]
    settings = Settings(
        backend=args.backend,
        reps=args.reps or (1 if mode == "smoke" else 3),
        budget_s=args.budget or {"full": 300.0, "quick": 60.0, "smoke": 30.0}[mode],
    )
    if "peer" in systems and python_for("peer") is None:
        print(
            "peer (c): skipped, bench/.venv-peer is missing; run bench/setup_peer.sh",
            file=sys.stderr,
        )
    host = machine()
    records: list[dict[str, Any]] = []
    for scenario in [s for s in SCENARIOS if s in scenarios]:
        previous: dict[str, dict[str, Any]] = {}
        for size in SIZES[mode][scenario]:
            for system in systems:  # interleaved, so every system sees the same host load
                skip = over_budget(previous.get(system), size, settings.budget_s)
                record = (
                    {"system": system, "scenario": scenario, "size": size, "status": skip}
                    if skip
                    else run_case(system, scenario, size, settings)
                )
                previous[system] = record
                records.append(record)
                shown = (
                    f"{record['median_s']:.4g} s median of {len(record['values_s'])}"
                    if record["status"] == "ok"
                    else record["status"]
                )
                print(f"{system:>9} {scenario} {size}: {shown}", file=sys.stderr, flush=True)
    report = {
        "command": " ".join(["bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "mode": mode,
        "machine": host,
        "settings": asdict(settings),
        "sizes": SIZES[mode],
        "results": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(records, systems))
    print()
    print("\n".join(targets(records)))
    print(f"\nraw figures: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
