"""Benchmark harness: every scenario for every system, one worker process per case.

    .venv/bin/python bench/run.py [--quick] [--systems a,b,c,d] [--scenarios chain,...] [--reps N]

Systems: (a) library, this library on Durable Task; (b) floor, hand-written durabletask
orchestrations; (c) peer, agent-framework-durabletask (its own venv, bench/setup_peer.sh);
(d) inprocess, this library's in-process runner; the anchors (e) dbos, (f) dbos-wal,
(g) langgraph, (h) langgraph-sync (their own venvs, bench/setup_anchors.sh); and the library on
its own embedded backend: lib-mem, lib-file (SQLite sidecar on :memory: / a file, the host's
default transport) and lib-mem-grpc, lib-file-grpc (the same over loopback gRPC). Each case
(system, scenario, size) runs in a fresh process (bench/systems/<module>.py), one warm-up run
at a small size, then up to --reps timed runs within the per-case budget; --rounds repeats the
whole interleaved sweep with the systems' order rotated. Prints a table of medians and ratios
and writes the raw figures to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MAIN_PYTHON = ROOT / ".venv" / "bin" / "python"
PEER_PYTHON = BENCH / ".venv-peer" / "bin" / "python"
VENVS = {
    "peer": (PEER_PYTHON, "bench/setup_peer.sh"),
    "anchor_dbos": (BENCH / ".venv-dbos" / "bin" / "python", "bench/setup_anchors.sh"),
    "anchor_langgraph": (BENCH / ".venv-langgraph" / "bin" / "python", "bench/setup_anchors.sh"),
}
"""Worker modules that run in a venv of their own, and the script that creates it."""


@dataclass(frozen=True)
class Variant:
    """A benchmarked system: its worker module and that module's settings."""

    module: str
    label: str
    settings: dict[str, Any] = field(default_factory=dict)


VARIANTS = {
    "library": Variant("library", "library (a)"),
    "floor": Variant("floor", "floor (b)"),
    "peer": Variant("peer", "peer (c)"),
    "inprocess": Variant("inprocess", "in-proc (d)"),
    "lib-mem": Variant("library", "lib-mem", {"embedded": "memory"}),
    "lib-file": Variant("library", "lib-file", {"embedded": "file"}),
    "lib-mem-grpc": Variant("library", "lib-mem-grpc", {"embedded": "memory", "transport": "grpc"}),
    "lib-file-grpc": Variant("library", "lib-file-grpc", {"embedded": "file", "transport": "grpc"}),
    "dbos": Variant("anchor_dbos", "dbos (e)"),
    "dbos-wal": Variant("anchor_dbos", "dbos-wal (f)", {"sqlite": "wal-normal", "poll": 0.01}),
    "langgraph": Variant("anchor_langgraph", "langgraph (g)"),
    "langgraph-sync": Variant(
        "anchor_langgraph", "lg-sync (h)", {"durability": "sync", "synchronous": "NORMAL"}
    ),
}
"""Every system by name, in the table's order."""
SYSTEMS = {
    "a": "library", "b": "floor", "c": "peer", "d": "inprocess",
    "e": "dbos", "f": "dbos-wal", "g": "langgraph", "h": "langgraph-sync",
}  # fmt: skip
"""Letters accepted by --systems."""
LABELS = {name: variant.label for name, variant in VARIANTS.items()}

SCENARIOS = ("chain", "fanout", "hitl", "throughput", "build")
SIZES = {
    "full": {"chain": [50, 500, 2000], "fanout": [10, 100, 1000], "hitl": [20],
             "throughput": [500], "build": [10_000]},
    "quick": {"chain": [50, 200], "fanout": [10, 100], "hitl": [20],
              "throughput": [100], "build": [10_000]},
    "smoke": {"chain": [3], "fanout": [2], "hitl": [2], "throughput": [3], "build": [10]},
    "targets": {"chain": [50, 2000], "fanout": [1000], "hitl": [20], "throughput": [500],
                "build": [10_000]},
}  # fmt: skip
"""Sizes per mode: chain length, fan-out width, HITL round trips per rep, runs, graph nodes."""
WARMUP = {"chain": 10, "fanout": 10, "hitl": 3, "throughput": 10, "build": 100}
"""Warm-up size per scenario (capped at the case's size): warms imports, channels, threads."""
GROWTH = {"chain": 2.0, "fanout": 1.0}
"""Exponent used to extrapolate a run's time from the previous size (the floor's and the peer's
chains are quadratic), to skip a case that would not fit its budget without starting it."""
LINEAR = {"library", "inprocess", "anchor_dbos", "anchor_langgraph"}
"""Worker modules whose chains are extrapolated linearly (they continue-as-new or never
replay)."""
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
    module = VARIANTS[system].module
    if module in VENVS:
        python = VENVS[module][0]
        return python if python.exists() else None
    return MAIN_PYTHON if MAIN_PYTHON.exists() else Path(sys.executable)


def run_case(system: str, scenario: str, size: int, settings: Settings) -> dict[str, Any]:
    """Run one case in a fresh worker process and return its JSON record."""
    base = {"system": system, "scenario": scenario, "size": size}
    python = python_for(system)
    variant = VARIANTS[system]
    if python is None:
        venv, script = VENVS[variant.module]
        return {**base, "status": f"unavailable: {venv.parent.parent.name} missing; run {script}"}
    spec = {
        "scenario": scenario,
        "size": size,
        "warmup_size": min(size, WARMUP[scenario]),
        **asdict(settings),
        "variant": variant.settings,
    }
    limit = settings.budget_s + KILL_GRACE_S
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(python), str(BENCH / "systems" / f"{variant.module}.py")],
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
    exponent = GROWTH[previous["scenario"]]
    if VARIANTS.get(previous["system"], VARIANTS["floor"]).module in LINEAR:
        exponent = 1.0
    estimate = previous["median_s"] * (size / previous["size"]) ** exponent
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


def _group(records: list[dict[str, Any]]) -> dict[tuple[str, str, int], list[dict[str, Any]]]:
    """Records by case, one per round."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["system"], record["scenario"], record["size"]), []).append(record)
    return groups


def _values(group: list[dict[str, Any]] | None, metric: str) -> list[float]:
    return [v for r in group or [] if (v := _value(r, metric)) is not None]


def _median(group: list[dict[str, Any]] | None, metric: str) -> float | None:
    """The median over rounds of a case's metric (each round's figure is a median itself)."""
    values = _values(group, metric)
    return statistics.median(values) if values else None


def _spread(values: list[float]) -> str:
    return f" [{_num(min(values))}-{_num(max(values))}]" if len(values) > 1 else ""


def _num(value: float) -> str:
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def _cell(group: list[dict[str, Any]] | None, metric: str) -> str:
    values = _values(group, metric)
    if values:
        return _num(statistics.median(values)) + _spread(values)
    if not group:
        return "-"
    return str(group[0]["status"]).split(":")[0]


def _time_ratio(x: float, y: float, metric: str) -> float:
    """x's time over y's (for runs/s the inverse): above 1 means x is slower."""
    return y / x if metric == "runs_per_s" else x / y


def ratios_by_round(
    xs: list[dict[str, Any]] | None, ys: list[dict[str, Any]] | None, metric: str
) -> list[float]:
    """Time ratios of two systems' figures for one case, one per round both measured."""
    by_round = {r.get("round", 0): _value(r, metric) for r in ys or []}
    found = []
    for record in xs or []:
        x, y = _value(record, metric), by_round.get(record.get("round", 0))
        if x and y:
            found.append(_time_ratio(x, y, metric))
    return found


def _ratio(xs: list[dict[str, Any]] | None, ys: list[dict[str, Any]] | None, metric: str) -> str:
    """The median of the per-round ratios, with their range when there are several rounds."""
    found = ratios_by_round(xs, ys, metric)
    if not found:
        return "-"
    return f"{statistics.median(found):.2f}" + (
        f" [{min(found):.2f}-{max(found):.2f}]" if len(found) > 1 else ""
    )


RATIOS = (
    ("library", "floor"), ("library", "peer"), ("peer", "floor"), ("inprocess", "floor"),
    ("lib-file", "lib-file-grpc"), ("lib-mem", "lib-mem-grpc"), ("lib-file", "library"),
    ("lib-file", "dbos-wal"), ("lib-file", "dbos"), ("lib-file", "langgraph"),
    ("lib-file", "langgraph-sync"),
)  # fmt: skip
"""Pairs shown as ratio columns when both systems are in the run."""
METRICS = {
    "chain": [("total s", "s"), ("per step ms", "per_step_ms")],
    "fanout": [("total s", "s")],
    "hitl": [("median ms", "median_ms"), ("p95 ms", "p95_ms")],
    "throughput": [("runs/s", "runs_per_s")],
    "build": [("build s", "s")],
}


def _short(system: str) -> str:
    letter = {name: key for key, name in SYSTEMS.items()}
    return letter.get(system, system)


def table(records: list[dict[str, Any]], systems: list[str]) -> str:
    """A Markdown table of medians and time ratios, plus peak RSS for the largest sizes.

    With several rounds a cell is the median of the rounds' medians [their range], and a ratio
    the median of the per-round ratios [their range], so drift between rounds cancels.
    """
    by_case = _group(records)
    ratios = [(x, y) for x, y in RATIOS if x in systems and y in systems]
    head = ["scenario", "metric", *(LABELS[s] for s in systems)]
    head += [f"{_short(x)}/{_short(y)}" for x, y in ratios]
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
                _ratio(by_case.get((x, scenario, size)), by_case.get((y, scenario, size)), metric)
                for x, y in ratios
            ]
            rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def _case_order(case: tuple[str, int]) -> tuple[int, int]:
    return SCENARIOS.index(case[0]), case[1]


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "MISSED")


def targets(records: list[dict[str, Any]]) -> list[str]:
    """The earlier issue's targets (library against floor and peer), as far as measured."""
    by_case = _group(records)

    def val(system: str, scenario: str, size: int, metric: str = "s") -> float | None:
        return _median(by_case.get((system, scenario, size)), metric)

    lines = []
    for scenario, size in (("chain", 50), ("fanout", 100)):
        a, b = val("library", scenario, size), val("floor", scenario, size)
        ratio = a / b if a and b else None
        shown = f"{ratio:.2f}" if ratio else "-"
        lines.append(
            f"library/floor on {scenario} {size} <= 1.2: {shown} "
            f"{_verdict(None if ratio is None else ratio <= 1.2)}"
        )
    chains = sorted(n for s, sc, n in by_case if s == "library" and sc == "chain")
    if chains:
        lo = val("library", "chain", chains[0], "per_step_ms")
        hi = val("library", "chain", chains[-1], "per_step_ms")
        growth = hi / lo if lo and hi and len(chains) > 1 else None
        lines.append(
            f"library per-step chain {chains[-1]} / chain {chains[0]} <= 1.5: "
            f"{f'{growth:.2f}' if growth else '-'} "
            f"{_verdict(None if growth is None else growth <= 1.5)}"
        )
    both = [
        (sc, n, a / c)
        for (s, sc, n) in by_case
        if s == "library"
        and sc != "build"
        and (a := val("library", sc, n))
        and (c := val("peer", sc, n))
    ]
    if both:
        worst = max(both, key=lambda t: t[2])
        lines.append(
            f"library/peer <= 0.5 on every shared scenario: worst {worst[2]:.2f} "
            f"({worst[0]} {worst[1]}) {_verdict(worst[2] <= 0.5)}"
        )
    else:
        lines.append("library/peer <= 0.5 on every shared scenario: not measured")
    builds = [n for s, sc, n in by_case if s == "library" and sc == "build"]
    t = val("library", "build", max(builds)) if builds else None
    lines.append(
        f"library build+validate+compile {max(builds) if builds else 10_000} nodes "
        f"< 1 s: {f'{t:.2f} s' if t else '-'} {_verdict(None if t is None else t < 1)}"
    )
    return lines


def fast_path_targets(records: list[dict[str, Any]], system: str = "lib-file") -> list[str]:
    """Issue 18's targets for `system` (the embedded file backend) against the anchors."""
    by_case = _group(records)

    def ratio(other: str, scenario: str, size: int, metric: str = "s") -> float | None:
        found = ratios_by_round(
            by_case.get((system, scenario, size)), by_case.get((other, scenario, size)), metric
        )
        return statistics.median(found) if found else None

    def line(text: str, value: float | None, ok: bool | None) -> str:
        return f"{text}: {'-' if value is None else f'{value:.2f}'} {_verdict(ok)}"

    lines = []
    for size in (50, 2000):
        r = ratio("dbos-wal", "chain", size, "per_step_ms")
        lines.append(line(f"{system}/dbos-wal, chain {size} per step <= 1.0", r,
                          None if r is None else r <= 1.0))
    for anchor in ("langgraph", "langgraph-sync"):
        r = ratio(anchor, "fanout", 1000)
        lines.append(line(f"{system}/{anchor}, fan-out 1000 <= 1.0", r,
                          None if r is None else r <= 1.0))
    for anchor in ("dbos-wal", "dbos"):
        r = ratio(anchor, "fanout", 1000)
        inverse = None if r is None else 1 / r
        lines.append(line(f"{anchor}/{system}, fan-out 1000 >= 3", inverse,
                          None if inverse is None else inverse >= 3))
    r = ratio("dbos-wal", "throughput", 500, "runs_per_s")
    speedup = None if r is None else 1 / r
    lines.append(line(f"{system} runs/s / dbos-wal runs/s, throughput 500 >= 1.5", speedup,
                      None if speedup is None else speedup >= 1.5))
    hitl = _median(by_case.get((system, "hitl", 20)), "median_ms")
    lines.append(line(f"{system} HITL round trip, median ms <= 5", hitl,
                      None if hitl is None else hitl <= 5))
    for anchor in ("langgraph", "langgraph-sync"):
        r = ratio(anchor, "hitl", 20, "median_ms")
        lines.append(line(f"{system}/{anchor}, HITL <= 1.0", r, None if r is None else r <= 1.0))
    lo = by_case.get((system, "chain", 50))
    hi = by_case.get((system, "chain", 2000))
    growth = [h / low for h, low in zip(_values(hi, "per_step_ms"), _values(lo, "per_step_ms"),
                                         strict=False)]
    g = statistics.median(growth) if growth else None
    lines.append(line(f"{system} per step, chain 2000 / chain 50 <= 1.2", g,
                      None if g is None else g <= 1.2))
    rss = _median(hi, "rss_mb")
    lines.append(line(f"{system} peak RSS at chain 2000, MB <= 100", rss,
                      None if rss is None else rss <= 100))
    return lines


# -- command line ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes, tighter budget")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, 1 rep (for tests)")
    mode.add_argument(
        "--targets", action="store_true", help="only the sizes issue 18's targets name"
    )
    parser.add_argument("--systems", default="a,b,c,d", help="letters or names, e.g. b,c")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--reps", type=int, help="timed runs per case (default 3, smoke 1)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat the sweep, rotating the systems' order"
    )
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
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="print the table of an earlier run and exit"
    )
    return parser.parse_args(argv)


def sweep(
    systems: list[str],
    scenarios: list[str],
    mode: str,
    settings: Settings,
    round_: int,
    records: list[dict[str, Any]],
    save: Callable[[], None],
) -> None:
    """One round: every case for every system, interleaved so all see the same host load.

    Appends to `records` and calls `save` after every case, so a stopped run keeps its data.
    """
    for scenario in scenarios:
        previous: dict[str, dict[str, Any]] = {}
        for size in SIZES[mode][scenario]:
            for system in systems:
                skip = over_budget(previous.get(system), size, settings.budget_s)
                record = (
                    {"system": system, "scenario": scenario, "size": size, "status": skip}
                    if skip
                    else run_case(system, scenario, size, settings)
                )
                record["round"] = round_
                previous[system] = record
                records.append(record)
                save()
                shown = (
                    f"{record['median_s']:.4g} s median of {len(record['values_s'])}"
                    if record["status"] == "ok"
                    else record["status"]
                )
                print(f"{system:>14} {scenario} {size}: {shown}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    args = parse_args(argv)
    if args.report is not None:
        earlier = json.loads(args.report.read_text())
        present = {r["system"] for r in earlier["results"]}
        print_report(earlier["results"], [s for s in VARIANTS if s in present])
        return 0
    mode = next((m for m in ("smoke", "quick", "targets") if getattr(args, m)), "full")
    systems = [SYSTEMS.get(s.strip(), s.strip()) for s in args.systems.split(",")]
    scenarios = [s.strip() for s in args.scenarios.split(",")]
    unknown = [s for s in systems if s not in VARIANTS]
    unknown += [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        print(f"unknown system or scenario: {', '.join(unknown)}", file=sys.stderr)
        return 2
    systems = [s for s in VARIANTS if s in systems]
    settings = Settings(
        backend=args.backend,
        reps=args.reps or (1 if mode == "smoke" else 3),
        budget_s=args.budget or {"full": 300.0, "quick": 60.0, "smoke": 30.0}.get(mode, 300.0),
    )
    for system in systems:
        if python_for(system) is None:
            venv, script = VENVS[VARIANTS[system].module]
            print(f"{LABELS[system]}: skipped, {venv.parent.parent} is missing; run {script}",
                  file=sys.stderr)
    host = machine()
    records: list[dict[str, Any]] = []
    loads: list[tuple[float, ...]] = []
    report = {
        "command": " ".join(["bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "mode": mode,
        "machine": host,
        "settings": asdict(settings),
        "sizes": SIZES[mode],
        "rounds": args.rounds,
        "load_avg_at_round_start": loads,
        "results": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        args.out.write_text(json.dumps(report, indent=1) + "\n")

    for round_ in range(args.rounds):
        loads.append(os.getloadavg())
        shift = round_ % len(systems)
        order = systems[shift:] + systems[:shift]  # rotated, so no system always goes first
        scenario_list = [s for s in SCENARIOS if s in scenarios]
        sweep(order, scenario_list, mode, settings, round_, records, save)
    save()
    print_report(records, systems)
    print(f"\nraw figures: {args.out}")
    return 0


def print_report(records: list[dict[str, Any]], systems: list[str]) -> None:
    """The table and the targets."""
    print(table(records, systems))
    print()
    if {"floor", "peer"} & set(systems) or "lib-file" not in systems:
        print("\n".join(targets(records)))
    if "lib-file" in systems:
        print("\n".join(fast_path_targets(records)))


if __name__ == "__main__":
    sys.exit(main())
