"""Draw the package's layers into diagrams/architecture/ and its tree into docs/architecture.md.

    .venv/bin/python scripts/architecture.py           # (re)write the diagram and the tree
    .venv/bin/python scripts/architecture.py --check   # exit 1 if either is stale

The layers come from the import-linter `layers` contract in pyproject.toml, the arrows from the
imports the code really makes (grimp, which import-linter uses), the tree from src/. The DOT text
is what the staleness check compares (SVG bytes differ between graphviz versions).
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

import grimp
import tomllib

from durable_workflows.rendering import run_dot

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "durable_workflows"
SRC = ROOT / "src" / PACKAGE
OUT = ROOT / "diagrams" / "architecture"
DOC = ROOT / "docs" / "architecture.md"
TREE_START, TREE_END = "<!-- tree: start (scripts/architecture.py) -->", "<!-- tree: end -->"
SVG_NODE_TITLE = re.compile(r'<g id="node\d+" class="node">\s*<title>(.*?)</title>', re.S)
DOT_NODE = re.compile(r'^  "([^"]*)" \[', re.M)


def layers() -> list[list[str]]:
    """The layers of the contract, top first; each a list of sibling packages."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    return [[name.strip() for name in re.split(r"[|:]", layer)] for layer in contract["layers"]]


def package_imports() -> dict[str, list[str]]:
    """For each top-level sub-package or module, the others it imports (directly), sorted."""
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    tops = sorted(m for m in graph.modules if m.count(".") == 1)
    return {
        a.split(".")[1]: [
            b.split(".")[1]
            for b in tops
            if a != b and graph.direct_import_exists(importer=a, imported=b, as_packages=True)
        ]
        for a in tops
    }


def to_dot(stack: list[list[str]], imports: dict[str, list[str]]) -> str:
    """The layers top to bottom, an arrow per package-level import (`errors` gets none drawn)."""
    lines = [
        'digraph "layers" {',
        '  graph [rankdir=TB, nodesep=0.35, ranksep=0.5, fontname="Helvetica"];',
        '  node [shape=box, style="rounded,filled", fillcolor="#dbe9f6", color="#2b5d8a",'
        ' fontname="Helvetica", fontsize=11];',
        '  edge [color="#5a6b7b", arrowsize=0.6];',
    ]
    placed = [name for layer in stack for name in layer]
    for layer in stack:
        for name in layer:
            label = f"{name}\\n(imported by every layer)" if name == "errors" else name
            lines.append(f'  "{name}" [label="{label}"];')
        if len(layer) > 1:
            lines.append("  { rank=same; " + " ".join(f'"{n}";' for n in layer) + " }")
    lines.append('  { rank=sink; "errors"; }')
    for name in sorted(set(imports) - set(placed)):
        lines.append(f'  "{name}" [label="{name}\\n(outside the layers)", fillcolor="#f6e7c1"];')
    for importer, imported in sorted(imports.items()):
        for target in imported:
            if target != "errors":
                lines.append(f'  "{importer}" -> "{target}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def tree() -> str:
    """src/durable_workflows: its top-level modules, then each sub-package with its modules."""
    modules = sorted(p.name for p in SRC.glob("*.py"))
    packages = sorted(p for p in SRC.iterdir() if (p / "__init__.py").exists())
    width = max(len(p.name) for p in packages) + 3
    lines = [f"{PACKAGE}/", *(f"  {name}" for name in modules)]
    for package in packages:
        names = [m.name for m in sorted(package.glob("*.py")) if m.name != "__init__.py"]
        line = f"  {package.name + '/':<{width}}"
        for name in names:
            if len(line) + len(name) > 96 and not line.endswith(" " * width):
                lines.append(line.rstrip())
                line = " " * (width + 2)
            line += name + "  "
        lines.append(line.rstrip())
    return "```text\n" + "\n".join(lines) + "\n```"


def with_tree(doc: str) -> str:
    """`doc` with the text between the tree markers replaced by the current tree."""
    start, end = doc.index(TREE_START) + len(TREE_START), doc.index(TREE_END)
    return doc[:start] + "\n" + tree() + "\n" + doc[end:]


def write(out: Path = OUT, doc: Path = DOC) -> list[Path]:
    """Write layers.dot and layers.svg into `out`, and the current tree into `doc`."""
    out.mkdir(parents=True, exist_ok=True)
    dot = to_dot(layers(), package_imports())
    (out / "layers.dot").write_text(dot, encoding="utf-8")
    (out / "layers.svg").write_bytes(run_dot(dot, "svg"))
    doc.write_text(with_tree(doc.read_text(encoding="utf-8")), encoding="utf-8")
    return [out / "layers.dot", out / "layers.svg", doc]


def stale(out: Path = OUT, doc: Path = DOC) -> list[str]:
    """What is out of date, one line per problem (empty when all is current)."""
    problems = []
    dot = to_dot(layers(), package_imports())
    dot_path, svg_path = out / "layers.dot", out / "layers.svg"
    if not dot_path.exists() or not svg_path.exists():
        problems.append(f"{dot_path.name} or {svg_path.name} is missing")
    elif dot_path.read_text(encoding="utf-8") != dot:
        problems.append(f"{dot_path.name} differs from the layers contract and the imports")
    elif svg_nodes(svg_path.read_text(encoding="utf-8")) != set(DOT_NODE.findall(dot)):
        problems.append(f"{svg_path.name} was not redrawn from its .dot")
    text = doc.read_text(encoding="utf-8")
    if TREE_START not in text or TREE_END not in text or with_tree(text) != text:
        problems.append(f"{doc.name}: the tree differs from src/{PACKAGE}")
    return problems


def svg_nodes(svg: str) -> set[str]:
    """The node ids graphviz drew into an SVG."""
    return {html.unescape(title) for title in SVG_NODE_TITLE.findall(svg)}


def main(argv: list[str] | None = None) -> int:
    """Write the diagram and the tree, or with --check report what is stale (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report what is stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for path in write():
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
