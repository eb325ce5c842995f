"""Soak: many one-step runs on the embedded backend with retention -> memory and file plateau.

One process hosts the SQLite sidecar (on a database file), the worker and the client. It keeps
`--concurrency` runs in flight until `--runs` have completed, with
``DurableWorkflowHost(retention=timedelta(seconds=--retention))``, and samples the process's
resident memory (VmRSS) and the database size (file + WAL) every `--sample` completed runs.
``--no-retention`` runs the same load without it, for comparison. ``--streamed`` starts the
runs with ``stream()`` so event logs are written (and purged) too.

    .venv/bin/python bench/retention_soak.py [--runs 10000] [--retention 5] [--streamed]

A plateau: the second half of the samples grows far less than the first (the script prints the
growth of each half and writes every sample to ``--out`` as JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from durable_workflows import DurableWorkflowHost, WorkflowBuilder, executor


@executor(id="step")
def step(x: int) -> int:
    return x + 1


ONE_STEP = WorkflowBuilder(step, name="SoakStep").build()


def rss_mb() -> float:
    """Resident memory of this process (MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def db_mb(db: Path) -> float:
    """Size of the database file and its WAL (MB)."""
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists()) / 1e6


async def soak(args: argparse.Namespace, db: Path) -> list[dict[str, Any]]:
    retention = None if args.no_retention else timedelta(seconds=args.retention)
    samples: list[dict[str, Any]] = []
    async with DurableWorkflowHost(workflows=[ONE_STEP], database=db, retention=retention) as host:
        client = host.client
        started = time.perf_counter()
        done = 0
        queue = iter(range(args.runs))

        async def one(i: int) -> None:
            start = client.stream if args.streamed else client.run
            run = await start(ONE_STEP, i)
            assert await run.wait_for_completion(timeout=120) == i + 1

        async def worker() -> None:
            nonlocal done
            for i in queue:
                await one(i)
                done += 1
                if done % args.sample == 0:
                    kept = len(await client.list_runs(limit=1_000_000))
                    samples.append(
                        {
                            "runs": done,
                            "seconds": round(time.perf_counter() - started, 1),
                            "rss_mb": round(rss_mb(), 1),
                            "db_mb": round(db_mb(db), 2),
                            "kept_runs": kept,
                        }
                    )
                    print(
                        f"{done:>6} runs  {samples[-1]['seconds']:>6.1f} s  "
                        f"rss {samples[-1]['rss_mb']:>6.1f} MB  db {samples[-1]['db_mb']:>6.2f} MB"
                        f"  kept {kept}",
                        flush=True,
                    )

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return samples


def growth(samples: list[dict[str, Any]], key: str) -> tuple[float, float]:
    """Growth of `key` over the first and the second half of the samples."""
    middle = samples[len(samples) // 2 - 1][key]
    return middle - samples[0][key], samples[-1][key] - middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=20, help="runs in flight at once")
    parser.add_argument("--retention", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument("--no-retention", action="store_true")
    parser.add_argument("--streamed", action="store_true", help="start runs with stream()")
    parser.add_argument("--sample", type=int, default=500, help="sample every N runs")
    parser.add_argument("--out", type=Path, default=Path("bench/results/retention_soak.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        samples = asyncio.run(soak(args, Path(tmp) / "soak.db"))
    for key in ("rss_mb", "db_mb"):
        first, second = growth(samples, key)
        print(f"{key}: +{first:.2f} over the first half, +{second:.2f} over the second")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                },
                "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "samples": samples,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
