"""The ``serve`` command of ``durable-workflows``: a host and its HTTP API in one process."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ..graph.builder import WorkflowBuilder
from ..graph.workflow import Workflow
from ..hosting.connection import ENV_VAR
from ..model.agent_protocol import WorkflowAgent
from ..sidecar.auth import TOKEN_ENV_VAR
from ..values.typing_utils import a_type
from .targets import UsageError, load_target

API_KEY_ENV_VAR = "DURABLE_WORKFLOWS_API_KEY"


def add_serve_command(sub: Any) -> None:
    """Add ``serve`` to the subcommand parsers."""
    p = sub.add_parser("serve", help="serve workflows and agents over HTTP (needs the http extra)")
    p.add_argument(
        "targets",
        nargs="+",
        metavar="TARGET",
        help="workflows, builders, agents, lists of them, or one DurableWorkflowHost",
    )
    p.add_argument("--db", type=Path, metavar="PATH", help="keep runs in this SQLite file")
    p.add_argument(
        "--connection-string",
        help=f"serve a shared task hub (worker + API) instead of an embedded backend "
        f"(default: ${ENV_VAR})",
    )
    p.add_argument(
        "--token", help=f"the token of a sidecar started with --token (default: ${TOKEN_ENV_VAR})"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7071, help="port (default 7071; 0: a free one)")
    p.add_argument(
        "--api-key",
        help=f"require this key on every route but /health (default: ${API_KEY_ENV_VAR})",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback --host without an API key",
    )
    p.add_argument(
        "--max-body-bytes", type=int, default=1024 * 1024, help="largest request body (1 MiB)"
    )
    p.add_argument("--max-concurrency", type=int, help="work items the worker processes at once")
    p.set_defaults(handler=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM."""
    try:
        from ..http import serve
    except ImportError as exc:
        raise UsageError(str(exc)) from exc
    from ..hosting.host import DurableWorkflowHost

    api_key = args.api_key or os.environ.get(API_KEY_ENV_VAR) or None
    host = _host(args, DurableWorkflowHost)

    def ready(url: str) -> None:
        names = ", ".join(w.name for w in host.workflows) or "no workflows"
        agents = [a.name for a in host.agents]  # the host is started: its agents are known
        if agents:
            names += f" and agent{'s' * (len(agents) > 1)} {', '.join(agents)}"
        print(f"serving {names} on {url}", flush=True)
        print(f"dashboard: {url}/  API docs: {url}/docs  (Ctrl-C stops it)", flush=True)

    serve(
        host,
        address=args.host,
        port=args.port,
        api_key=api_key,
        insecure=args.insecure,
        max_body_bytes=args.max_body_bytes,
        ready=ready,
    )
    print("stopped", flush=True)
    return 0


def _host(args: argparse.Namespace, host_class: Any) -> Any:
    """The host to serve: one given as the only target, or one made for the targets."""
    objects = [load_target(t) for t in args.targets]
    if len(objects) == 1 and isinstance(objects[0], host_class):
        if args.db or args.connection_string or args.token or args.max_concurrency:
            msg = "--db, --connection-string, --token and --max-concurrency configure a host; the target is one already"
            raise UsageError(msg)
        return objects[0]
    workflows: dict[str, Workflow] = {}
    agents: dict[str, WorkflowAgent] = {}
    for target, obj in zip(args.targets, objects, strict=True):
        for item in obj if isinstance(obj, (list, tuple)) else [obj]:
            if isinstance(item, WorkflowBuilder):
                item = item.build()
            if isinstance(item, Workflow):
                workflows[item.name] = item
            elif isinstance(item, WorkflowAgent):
                agents[item.name] = item
            else:
                msg = f"{target!r} holds {a_type(item)}, not a workflow or an agent"
                if isinstance(item, host_class):
                    msg = f"{target!r} is a host: serve it alone (`serve {target}`)"
                raise UsageError(msg)
    if args.db is not None and (args.connection_string or os.environ.get(ENV_VAR)):
        raise UsageError("--db is for the embedded backend; drop it or the connection string")
    return host_class(
        list(workflows.values()),
        list(agents.values()),
        connection_string=args.connection_string,
        token=args.token,
        database=args.db,
        max_concurrency=args.max_concurrency,
    )
