"""The ```python blocks of README.md and docs/*.md run, each file's blocks in order in one module.

A block preceded by ``<!-- skip -->`` is not run (it needs a server, a key, or a long wait); one
preceded by ``<!-- requires: dot -->`` runs only where a graphviz program (`dot`, or graphviz-pure
from the render extra) is installed.
"""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from durable_workflows.rendering.programs import find_renderer

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!--\s*(skip|requires:\s*dot)\s*-->\s*$")


@dataclass
class Block:
    line: int
    code: str
    marker: str | None


def python_blocks(text: str) -> list[Block]:
    """The file's python blocks with their first line number and the marker just above them."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        line = text.count("\n", 0, match.start()) + 2
        blocks.append(Block(line, match.group(1), marker and marker.group(1).replace(" ", "")))
    return blocks


@pytest.mark.parametrize("path", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_python_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = [b for b in python_blocks(path.read_text(encoding="utf-8")) if b.marker != "skip"]
    if not blocks:
        pytest.skip("no runnable python blocks")
    if find_renderer() is None and any(b.marker == "requires:dot" for b in blocks):
        blocks = [b for b in blocks if b.marker != "requires:dot"]
    monkeypatch.chdir(tmp_path)
    name = "docs_" + re.sub(r"\W", "_", path.stem)
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    for block in blocks:
        source = "\n" * (block.line - 1) + block.code
        exec(compile(source, str(path), "exec"), module.__dict__)


def test_markers_are_recognised() -> None:
    text = "x\n<!-- skip -->\n```python\n1/0\n```\n\n<!-- requires: dot -->\n```python\nok\n```\n"
    assert [(b.line, b.marker) for b in python_blocks(text)] == [(4, "skip"), (9, "requires:dot")]
