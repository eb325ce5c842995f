"""diagrams/ holds a current drawing of every example (`scripts/render_diagrams.py` redraws them).

The check compares each example's DOT text with diagrams/<example>.dot, and the node ids drawn in
diagrams/<example>.svg with those of the DOT text: SVG bytes vary between graphviz versions.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from durable_workflows import WorkflowBuilder, executor
from durable_workflows.rendering.programs import find_renderer

ROOT = Path(__file__).resolve().parent.parent


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "render_diagrams", ROOT / "scripts" / "render_diagrams.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


script = load_script()


def test_every_example_has_a_current_diagram() -> None:
    problems = script.stale_diagrams(script.example_workflows())
    assert not problems, (
        "diagrams/ is stale; run `.venv/bin/python scripts/render_diagrams.py`:\n"
        + "\n".join(problems)
    )


@executor
def first(text: str) -> str:
    return text


@executor
def second(text: str) -> str:
    return text


@pytest.mark.skipif(find_renderer() is None, reason="no graphviz program (dot or graphviz-pure)")
def test_the_check_notices_changes(tmp_path: Path) -> None:
    workflow = WorkflowBuilder(first, name="Pair").add_edge(first, second).build()
    script.write_diagrams({"pair": workflow}, tmp_path)
    assert script.stale_diagrams({"pair": workflow}, tmp_path) == []

    changed = WorkflowBuilder(first, name="Pair").build()
    assert (
        "pair: diagrams/pair.dot differs" in script.stale_diagrams({"pair": changed}, tmp_path)[0]
    )

    (tmp_path / "pair.dot").write_text(script.workflow_to_dot(changed))
    assert "was not redrawn" in script.stale_diagrams({"pair": changed}, tmp_path)[0]

    assert script.stale_diagrams({}, tmp_path) == [
        "diagrams/pair.dot belongs to no example",
        "diagrams/pair.svg belongs to no example",
    ]
    script.write_diagrams({}, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_examples_are_found(tmp_path: Path) -> None:
    (tmp_path / "diagram_example_one.py").write_text(
        "from durable_workflows import WorkflowBuilder, executor\n"
        "@executor\ndef hello(text: str) -> str:\n    return text\n"
        "workflow = WorkflowBuilder(hello, name='One').build()\n"
    )
    (tmp_path / "diagram_example_two.py").write_text(
        "from durable_workflows import WorkflowBuilder, executor\n"
        "@executor\ndef hi(text: str) -> str:\n    return text\n"
        "def build_workflow():\n    return WorkflowBuilder(hi, name='Two')\n"
    )
    (tmp_path / "diagram_example_helpers.py").write_text("VALUE = 1\n")
    (tmp_path / "_private.py").write_text("raise RuntimeError('not an example')\n")
    found = script.example_workflows(tmp_path)
    assert {name: w.name for name, w in found.items()} == {
        "diagram_example_one": "One",
        "diagram_example_two": "Two",
    }
