"""docs/architecture.md and diagrams/architecture/ show the package as it is.

`scripts/architecture.py` draws the layers (from the import-linter contract) with the imports the
code really makes, and writes the package tree into docs/architecture.md; this checks that both
are current. The layering itself, and the absence of import circles, is checked by `lint-imports`
(scripts/test.sh), not here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from durable_workflows.rendering.programs import find_renderer

ROOT = Path(__file__).resolve().parent.parent


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "architecture", ROOT / "scripts" / "architecture.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


script = load_script()


def test_diagram_and_tree_are_current() -> None:
    problems = script.stale()
    assert not problems, (
        "docs/architecture.md or diagrams/architecture/ is stale; run "
        "`.venv/bin/python scripts/architecture.py`:\n" + "\n".join(problems)
    )


def test_every_layer_is_drawn_with_the_imports_between_layers() -> None:
    stack = script.layers()
    assert stack[0] == ["cli", "testing"]
    assert stack[-1] == ["errors"]
    imports = script.package_imports()
    assert "graph" in imports["runtime"] and "runtime" not in imports["graph"]
    assert imports["sidecar"] == ["errors"]
    dot = script.to_dot(stack, imports)
    for layer in stack:
        for name in layer:
            assert f'  "{name}" [' in dot
    assert '  "runtime" -> "graph";' in dot
    assert '"sidecar" [label="sidecar\\n(outside the layers)"' in dot


@pytest.mark.skipif(find_renderer() is None, reason="no graphviz program (dot or graphviz-pure)")
def test_the_check_notices_changes(tmp_path: Path) -> None:
    doc = tmp_path / "architecture.md"
    doc.write_text(f"# Title\n\n{script.TREE_START}\nold tree\n{script.TREE_END}\n")
    assert script.stale(tmp_path, doc) == [
        "layers.dot or layers.svg is missing",
        "architecture.md: the tree differs from src/durable_workflows",
    ]

    script.write(tmp_path, doc)
    assert script.stale(tmp_path, doc) == []
    assert "  graph/" in doc.read_text() and "spec.py" in doc.read_text()

    dot = tmp_path / "layers.dot"
    dot.write_text(dot.read_text().replace('  "runtime" -> "graph";\n', ""))
    assert script.stale(tmp_path, doc) == [
        "layers.dot differs from the layers contract and the imports"
    ]
