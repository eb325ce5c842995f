"""The ``durable-workflows`` command: render, validate, run, serve and answer workflows.

Exit codes: 0 success, 1 an invalid workflow or a failed run (or any other error), 2 a usage
error (bad arguments, a target that cannot be found), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from ..errors import DurableWorkflowsError, WorkflowValidationError
from ..graph.builder import WorkflowBuilder
from ..graph.workflow import Workflow
from ..model.edges import FanInEdge, FanOutEdge, SingleEdge, TimeoutEdge
from ..rendering import (
    FORMATS,
    Format,
    RenderingError,
    render,
    workflow_to_dot,
    workflow_to_mermaid,
)
from ..rendering.output import output_format
from .listing import add_list_command
from .replay import add_replay_commands
from .runs import CS_HELP, TOKEN_HELP, add_run_commands
from .serve import add_serve_command
from .status import add_status_command
from .targets import UsageError, load_graph


def cmd_render(args: argparse.Namespace) -> int:
    """Write a diagram (or print DOT / Mermaid text when no output file is given)."""
    output: Path | None = args.output
    fmt: Format | None = args.format
    graph = load_graph(args.target)
    if output is None:
        fmt = fmt or "svg"
        if fmt not in ("dot", "mermaid"):
            raise UsageError(f"--format {fmt} writes a binary file; give one with -o PATH")
        sys.stdout.write(workflow_to_dot(graph) if fmt == "dot" else workflow_to_mermaid(graph))
        return 0
    try:
        output_format(output, fmt)
    except RenderingError as exc:
        raise UsageError(str(exc)) from None
    print(render(graph, output, fmt))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Print every problem of a workflow (exit 1), or a summary of a valid one."""
    try:
        graph = load_graph(args.target)
    except WorkflowValidationError as exc:  # built at import time, or by the function
        print(str(exc))
        return 1
    if isinstance(graph, WorkflowBuilder):
        try:
            graph = graph.build()
        except WorkflowValidationError as exc:
            print(str(exc))
            return 1
    print(summary(graph))
    return 0


def summary(workflow: Workflow) -> str:
    """One line describing a valid workflow: its nodes, edge groups, start and graph hash."""
    kinds: Counter[str] = Counter(node.kind for node in workflow.nodes.values())
    nodes = ", ".join(
        plural(kinds[k], label)
        for k, label in (
            ("executor", "executor"),
            ("agent", "agent"),
            ("port", "request port"),
            ("delay", "delay"),
        )
        if kinds[k]
    )
    groups = Counter(_group_kind(group) for group in workflow.groups)
    edges = ", ".join(f"{count} {kind}" for kind, count in groups.items())
    return (
        f"Workflow {workflow.name!r} is valid: {plural(len(workflow.nodes), 'node')} ({nodes}), "
        f"{plural(len(workflow.groups), 'edge group')} ({edges or 'none'}), "
        f"start {workflow.start_id!r}, graph hash {workflow.graph_hash}"
    )


def plural(count: int, noun: str) -> str:
    """``1 node``, ``2 nodes``."""
    return f"{count} {noun}{'s' * (count != 1)}"


def _group_kind(group: object) -> str:
    if isinstance(group, SingleEdge):
        return "single"
    if isinstance(group, FanOutEdge):
        return "fan-out"
    if isinstance(group, FanInEdge):
        return "fan-in"
    if isinstance(group, TimeoutEdge):
        return "timeout"
    return "switch-case"


# -- the command line ------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="durable-workflows",
        description="Render, validate, run and serve durable_workflows workflows.",
        epilog="TARGET is MODULE[:ATTRIBUTE]: a dotted module or a .py file, and the attribute "
        "holding a Workflow, a WorkflowBuilder or a function returning one "
        "(default: `workflow`, then `build_workflow`).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("render", help="draw a workflow (svg, png, pdf, dot, mermaid)")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: print the text)")
    p.add_argument(
        "-f", "--format", choices=FORMATS, help="for suffixes that name no format (default: the suffix's)"
    )
    p.set_defaults(handler=cmd_render)

    p = sub.add_parser("validate", help="check a workflow; print every problem (exit 1)")
    p.add_argument("target", metavar="TARGET")
    p.set_defaults(handler=cmd_validate)

    add_run_commands(sub)
    add_status_command(sub, CS_HELP, TOKEN_HELP)
    add_list_command(sub)
    add_serve_command(sub)
    add_replay_commands(sub)
    sub.add_parser(
        "sidecar", help="run a persistent SQLite-backed Durable Task sidecar", add_help=False
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] == ["sidecar"]:
        from ..sidecar.__main__ import main as sidecar_main

        return sidecar_main(args_list[1:])
    args = build_parser().parse_args(args_list)
    try:
        result: int = args.handler(args)
        return result
    except UsageError as exc:
        return _fail(f"error: {exc}", 2)
    except DurableWorkflowsError as exc:
        return _fail(f"error: {exc}", 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code
