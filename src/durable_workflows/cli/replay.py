"""``durable-workflows history`` and ``replay``: export a run's history, replay it on new code.

``replay`` exits 0 when the current code agrees with the recorded run, 1 (with the first
divergence on stderr) when it does not: run it in CI against histories of runs in flight.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from ..hosting.connection import ENV_VAR
from ..sidecar.auth import TOKEN_ENV_VAR
from .runs import open_client
from .targets import load_workflow


def add_replay_commands(sub: Any) -> None:
    """Add ``history`` and ``replay`` to the subcommand parsers."""
    p = sub.add_parser("history", help="export a run's recorded history as JSON")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("-o", "--output", type=Path, metavar="PATH", help="file to write (default: print)")
    p.add_argument("-w", "--workflow", metavar="TARGET", help="the run's workflow (adds its plan)")
    p.add_argument(
        "--connection-string",
        help=f"Durable Task Scheduler connection string or sidecar address (default: ${ENV_VAR})",
    )
    p.add_argument(
        "--token", help=f"the token of a sidecar started with --token (default: ${TOKEN_ENV_VAR})"
    )
    p.set_defaults(handler=lambda args: asyncio.run(history_command(args)))

    p = sub.add_parser("replay", help="replay a recorded history against the current code")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("history", type=Path, metavar="HISTORY.json")
    p.set_defaults(handler=replay_command)


async def history_command(args: argparse.Namespace) -> int:
    """Print (or write) a run's history document."""
    import json

    workflows = [load_workflow(args.workflow)] if args.workflow else []
    client = open_client(args, workflows)
    try:
        document = await client.export_history(args.run_id, args.output)
    finally:
        await client.close()
    if args.output is None:
        print(json.dumps(document, indent=1))
    else:
        print(f"wrote {len(document['events'])} history events of run {args.run_id} to {args.output}")
    return 0


def replay_command(args: argparse.Namespace) -> int:
    """Replay; a divergence raises (exit 1 with the message)."""
    from ..durable.replay import replay

    workflow = load_workflow(args.target)
    report = replay(workflow, args.history)
    state = "completed" if report.completed else "in flight"
    print(
        f"replayed run {report.run_id} ({state}, {report.events} history events) against "
        f"{workflow.name!r} (graph hash {workflow.graph_hash}): no divergence"
    )
    return 0
