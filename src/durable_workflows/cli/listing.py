"""The ``runs`` command of ``durable-workflows``: list recent runs of a shared backend."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime
from typing import Any

from ..hosting.connection import ENV_VAR
from ..hosting.run_info import RUN_STATES, RunSummary
from ..sidecar.auth import TOKEN_ENV_VAR
from .runs import open_client
from .targets import UsageError


def add_list_command(sub: Any) -> None:
    """Add ``runs`` to the subcommand parsers."""
    p = sub.add_parser("runs", help="list recent runs, newest first")
    p.add_argument("--workflow", metavar="NAME", help="only runs of this workflow (its name)")
    p.add_argument("--status", choices=RUN_STATES, help="only runs in this state")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    p.add_argument("--json", action="store_true", help="print one JSON object per run")
    p.add_argument(
        "--connection-string",
        help=f"Durable Task Scheduler connection string or sidecar address (default: ${ENV_VAR})",
    )
    p.add_argument(
        "--token", help=f"the token of a sidecar started with --token (default: ${TOKEN_ENV_VAR})"
    )
    p.set_defaults(handler=lambda args: asyncio.run(runs_command(args)))


async def runs_command(args: argparse.Namespace) -> int:
    """Print the runs, one per line (or as JSON lines)."""
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    client = open_client(args, [])
    try:
        runs = await client.list_runs(args.workflow, args.status, limit=args.limit)
    finally:
        await client.close()
    if args.json:
        for run in runs:
            print(json.dumps(summary_json(run)))
        return 0
    if not runs:
        print("no runs")
        return 0
    rows = [("RUN", "WORKFLOW", "STATUS", "STEP", "WAITING", "STARTED", "UPDATED")]
    rows += [
        (
            run.run_id,
            run.workflow,
            run.status,
            str(run.superstep),
            str(run.pending_requests),
            _time(run.created_at),
            _time(run.updated_at),
        )
        for run in runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def summary_json(run: RunSummary) -> dict[str, Any]:
    """A run summary as JSON data (times in ISO 8601, UTC)."""
    return {
        "runId": run.run_id,
        "workflow": run.workflow,
        "status": run.status,
        "superstep": run.superstep,
        "pendingRequests": run.pending_requests,
        "createdAt": run.created_at.isoformat(),
        "updatedAt": run.updated_at.isoformat(),
    }


def _time(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}"
