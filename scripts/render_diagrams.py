"""Draw every example's workflow into diagrams/: ``<example>.svg`` and its ``<example>.dot`` source.

    .venv/bin/python scripts/render_diagrams.py           # (re)write the diagrams
    .venv/bin/python scripts/render_diagrams.py --check   # exit 1 if any diagram is stale

An example is a module in examples/ with a module-level `workflow` (or a `build_workflow()`
function). The DOT source is kept next to each SVG because it is what the staleness check
compares: SVG bytes differ between graphviz versions, the DOT text does not.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

from durable_workflows import Workflow, WorkflowBuilder
from durable_workflows.cli.targets import DEFAULT_ATTRIBUTES, load_module
from durable_workflows.rendering import render, workflow_to_dot

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DIAGRAMS = ROOT / "diagrams"
SVG_NODE_TITLE = re.compile(r'<g id="node\d+" class="node">\s*<title>(.*?)</title>', re.S)
DOT_NODE = re.compile(r'^  "((?:[^"\\]|\\.)*)" \[', re.M)


def example_workflows(examples: Path = EXAMPLES) -> dict[str, Workflow]:
    """The workflow of each example module, by module name, in name order."""
    found: dict[str, Workflow] = {}
    for path in sorted(examples.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = load_module(str(path))
        for name in DEFAULT_ATTRIBUTES:
            obj = getattr(module, name, None)
            if obj is None:
                continue
            if callable(obj) and not isinstance(obj, (Workflow, WorkflowBuilder)):
                obj = obj()
            found[path.stem] = obj.build() if isinstance(obj, WorkflowBuilder) else obj
            break
    return found


def write_diagrams(workflows: dict[str, Workflow], out: Path = DIAGRAMS) -> list[Path]:
    """Write ``<name>.dot`` and ``<name>.svg`` for each workflow; remove diagrams of no example."""
    out.mkdir(exist_ok=True)
    written = []
    for name, workflow in workflows.items():
        (out / f"{name}.dot").write_text(workflow_to_dot(workflow), encoding="utf-8")
        written.append(render(workflow, out / f"{name}.svg"))
    for old in [*out.glob("*.dot"), *out.glob("*.svg")]:
        if old.stem not in workflows:
            old.unlink()
    return written


def stale_diagrams(workflows: dict[str, Workflow], out: Path = DIAGRAMS) -> list[str]:
    """What is out of date in `out`, one line per problem (empty when all is current)."""
    problems = []
    for name, workflow in workflows.items():
        dot_path, svg_path = out / f"{name}.dot", out / f"{name}.svg"
        dot = workflow_to_dot(workflow)
        if not dot_path.exists() or not svg_path.exists():
            problems.append(f"{name}: diagrams/{name}.dot or .svg is missing")
        elif dot_path.read_text(encoding="utf-8") != dot:
            problems.append(f"{name}: diagrams/{name}.dot differs from the example's graph")
        elif svg_nodes(svg_path.read_text(encoding="utf-8")) != dot_nodes(dot):
            problems.append(f"{name}: diagrams/{name}.svg was not redrawn from its .dot")
    for old in [*out.glob("*.dot"), *out.glob("*.svg")]:
        if old.stem not in workflows:
            problems.append(f"diagrams/{old.name} belongs to no example")
    return problems


def dot_nodes(dot: str) -> set[str]:
    """The node ids a DOT text declares."""
    return {re.sub(r"\\(.)", r"\1", match) for match in DOT_NODE.findall(dot)}


def svg_nodes(svg: str) -> set[str]:
    """The node ids graphviz drew into an SVG."""
    return {html.unescape(title) for title in SVG_NODE_TITLE.findall(svg)}


def main(argv: list[str] | None = None) -> int:
    """Write the diagrams, or with --check report stale ones (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale diagrams")
    args = parser.parse_args(argv)
    workflows = example_workflows()
    if args.check:
        problems = stale_diagrams(workflows)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for path in write_diagrams(workflows):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
