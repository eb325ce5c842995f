"""Where a chain step's time goes: a py-spy target and a classifier of its samples.

    .venv/bin/python bench/profile_chain.py run RUNS [--transport grpc|inprocess] [--size 500]
        RUNS chain runs on DurableWorkflowHost(database=<file>, max_concurrency=6) after one
        warm-up; prints wall and CPU time and context switches per step.
    bench/profile_chain.sh OUT.txt 8 [--transport grpc]
        py-spy attached after the warm-up (the graph's build and the first run stay out).
    .venv/bin/python bench/profile_chain.py classify OUT.txt [--top durable_workflows/]
        The share of GIL samples per component (by the role of the stack, see `component`).

The process is CPU-bound (CPU time per step is close to wall time per step), so shares of
GIL samples are shares of step time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

COMPONENTS = (
    "durabletask worker pipeline (stream reader, queues, asyncio loop, pool) and unattributed",
    "gRPC (client and server, Python and core)",
    "in-process transport and local worker (sidecar/inproc.py, local_worker.py)",
    "sidecar engine (dispatch, leases, group commit, wake-ups)",
    "SQLite (execute and commit)",
    "durabletask executors (replay, actions, activity/entity executors)",
    "library code (orchestrator, engine, activity wrapper)",
    "client (WorkflowClient, host) and other",
)


ATTACH_S = 2.0
"""Pause after the warm-up, for ``py-spy record --pid`` to attach (see profile_chain.sh)."""

_EXECUTORS = ("_OrchestrationExecutor", "_ActivityExecutor", "_EntityExecutor",
              "_RuntimeOrchestrationContext", "._execute_orchestrator", "._execute_activity",
              "._execute_entity_batch")


def component(frames: list[str]) -> str:
    """The component a sample's stack (outermost first) is charged to.

    From the innermost frame outwards, the first frame that is SQLite work, sidecar code,
    library code, gRPC code or a durabletask executor decides; a stack with none of these is
    the durabletask worker's pipeline (or the client).
    """
    for frame in reversed(frames):
        if "sidecar/writer.py" in frame and ("_commit" in frame or "_apply" in frame):
            return COMPONENTS[4]
        if "durable_workflows/sidecar/" in frame:
            if "inproc.py" in frame or "local_worker.py" in frame:
                return COMPONENTS[2]
            return COMPONENTS[3]
        if "durable_workflows/hosting/" in frame or "durable_workflows/http" in frame:
            return COMPONENTS[7]
        if "durable_workflows/" in frame:
            return COMPONENTS[6]
        if "grpc/" in frame or "grpc._cython" in frame:
            return COMPONENTS[1]
        if any(name in frame for name in _EXECUTORS):
            return COMPONENTS[5]
    text = ";".join(frames)
    return COMPONENTS[7] if "profile_chain.py" in text else COMPONENTS[0]


def top_frames(path: Path, needle: str, count: int = 25) -> list[tuple[str, int]]:
    """The innermost frames containing `needle`, by samples (where a component's time goes)."""
    found: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        for frame in reversed(stack.split(";")[1:]):
            if needle in frame:
                found[frame.split(" (")[0] + " " + frame.rsplit("/", 1)[-1]] += int(samples)
                break
    return found.most_common(count)


def classify(path: Path) -> dict[str, float]:
    """Shares (percent) of the samples in a py-spy raw (collapsed) file, after the warm-up."""
    counts: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")[1:]  # the first entry names the thread
        if not frames or any("_find_and_load" in f for f in frames):
            continue  # imports at start-up
        counts[component(frames)] += int(count)
    total = sum(counts.values()) or 1
    return {name: 100 * counts[name] / total for name in COMPONENTS} | {"samples": total}


async def run(runs: int, size: int, transport: str | None, threads: int = 6) -> None:
    """The profile target: `runs` chain runs after a warm-up, with per-step figures."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "systems"))
    import _graphs

    from durable_workflows.hosting.host import DurableWorkflowHost

    workflow = _graphs.chain(size)
    extra = {} if transport is None else {"transport": transport}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        host = DurableWorkflowHost([workflow], database=os.path.join(tmp, "runs.db"),
                                   max_concurrency=threads, **extra)
        async with host:
            await (await host.client.run(workflow, 0)).wait_for_completion()
            print(f"ready {os.getpid()}", flush=True)  # attach the profiler now
            await asyncio.sleep(ATTACH_S)
            before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            for _ in range(runs):
                result = await (await host.client.run(workflow, 0)).wait_for_completion()
                assert result == size, result
            wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
    steps = runs * size
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    print(f"wall {wall / steps * 1e3:.3f} ms/step, CPU {cpu / steps * 1e3:.3f} ms/step, "
          f"{(after.ru_nvcsw - before.ru_nvcsw) / steps:.1f} voluntary and "
          f"{(after.ru_nivcsw - before.ru_nivcsw) / steps:.1f} involuntary context switches "
          f"per step; load {os.getloadavg()[0]:.2f}")


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    target = sub.add_parser("run")
    target.add_argument("runs", type=int)
    target.add_argument("--size", type=int, default=500)
    target.add_argument("--transport", choices=("grpc", "inprocess"))
    target.add_argument("--threads", type=int, default=6, help="the host's max_concurrency")
    shares = sub.add_parser("classify")
    shares.add_argument("raw", type=Path, nargs="+")
    shares.add_argument("--top", help="also list the innermost frames whose text has TOP")
    args = parser.parse_args()
    if args.command == "run":
        asyncio.run(run(args.runs, args.size, args.transport, args.threads))
        return
    for raw in args.raw:
        result = classify(raw)
        print(f"{raw}: {result.pop('samples'):.0f} samples")
        for name, share in result.items():
            print(f"  {share:5.1f}%  {name}")
        if args.top:
            for frame, samples in top_frames(raw, args.top):
                print(f"  {samples:6d}  {frame}")


if __name__ == "__main__":
    main()
