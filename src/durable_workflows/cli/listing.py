"""The ``runs`` and ``purge`` commands of ``durable-workflows``: list recent runs of a shared
backend, and delete the finished ones older than a duration."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from datetime import datetime, timedelta
from typing import Any

from ..hosting.connection import ENV_VAR
from ..hosting.retention import cutoff
from ..hosting.run_info import RUN_STATES, RunSummary
from ..sidecar.auth import TOKEN_ENV_VAR
from .runs import open_client
from .targets import UsageError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def add_list_command(sub: Any) -> None:
    """Add ``runs`` and ``purge`` to the subcommand parsers."""
    p = sub.add_parser("runs", help="list recent runs, newest first")
    p.add_argument("--workflow", metavar="NAME", help="only runs of this workflow (its name)")
    p.add_argument("--status", choices=RUN_STATES, help="only runs in this state")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    p.add_argument("--json", action="store_true", help="print one JSON object per run")
    _connection_arguments(p)
    p.set_defaults(handler=lambda args: asyncio.run(runs_command(args)))

    p = sub.add_parser("purge", help="delete finished runs older than a duration")
    p.add_argument(
        "--older-than",
        required=True,
        metavar="DURATION",
        type=parse_duration,
        help="runs that finished longer ago than this: 45s, 30m, 12h, 7d or 2w",
    )
    _connection_arguments(p)
    p.set_defaults(handler=lambda args: asyncio.run(purge_command(args)))


def _connection_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--connection-string",
        help=f"Durable Task Scheduler connection string or sidecar address (default: ${ENV_VAR})",
    )
    p.add_argument(
        "--token", help=f"the token of a sidecar started with --token (default: ${TOKEN_ENV_VAR})"
    )


def parse_duration(text: str) -> timedelta:
    """A duration such as ``45s``, ``30m``, ``12h``, ``7d`` or ``2w``."""
    match = _DURATION.match(text.strip())
    if match is None:
        msg = f"invalid duration {text!r}: use a number and a unit, e.g. 45s, 30m, 12h, 7d, 2w"
        raise argparse.ArgumentTypeError(msg)
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


async def purge_command(args: argparse.Namespace) -> int:
    """Delete the finished runs older than ``--older-than`` (with their event logs)."""
    until = cutoff(args.older_than)
    client = open_client(args, [])
    try:
        count = await client.purge_runs(until)
    finally:
        await client.close()
    print(f"purged {count} run{'s' * (count != 1)} finished before {_time(until)} UTC")
    return 0


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
    rows = [("RUN", "WORKFLOW", "VERSION", "STATUS", "STEP", "WAITING", "STARTED", "UPDATED")]
    rows += [
        (
            run.run_id,
            run.workflow,
            run.version or "-",
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
        "version": run.version,
        "status": run.status,
        "superstep": run.superstep,
        "pendingRequests": run.pending_requests,
        "createdAt": run.created_at.isoformat(),
        "updatedAt": run.updated_at.isoformat(),
    }


def _time(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}"
