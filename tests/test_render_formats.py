"""`render` writes the format the file suffix names, or refuses; never SVG text in a .png."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from durable_workflows import WorkflowBuilder, executor
from durable_workflows.rendering import RenderingError, render

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` not installed")


@executor
def hello(name: str) -> str:
    return f"hello {name}"


WORKFLOW = WorkflowBuilder(hello, name="Hello").build()

MAGIC = {"w.png": b"\x89PNG\r\n\x1a\n", "w.pdf": b"%PDF", "w.svg": b"<?xml"}


@needs_dot
@pytest.mark.parametrize("name", sorted(MAGIC))
def test_the_suffix_picks_the_image_format(tmp_path: Path, name: str) -> None:
    path = WORKFLOW.render(tmp_path / name)
    assert path.read_bytes().startswith(MAGIC[name])


def test_the_suffix_picks_the_text_format(tmp_path: Path) -> None:
    assert "flowchart TD" in render(WORKFLOW, tmp_path / "w.mmd").read_text()
    assert render(WORKFLOW, tmp_path / "w.gv").read_text().startswith('digraph "Hello"')
    assert render(WORKFLOW, tmp_path / "w.txt", "dot").read_text().startswith("digraph")


@pytest.mark.parametrize(
    ("name", "format", "message"),
    [
        ("w.jpg", None, r"cannot tell which format to write 'w.jpg' in: \.jpg is not a diagram"),
        ("w", None, "no suffix is not a diagram format"),
        ("w.png", "svg", "'w.png' names the png format, not svg; change the suffix or the format"),
    ],
)
def test_a_suffix_that_names_no_format_or_another_is_refused(
    tmp_path: Path, name: str, format: str | None, message: str
) -> None:
    with pytest.raises(RenderingError, match=message):
        WORKFLOW.render(tmp_path / name, format)  # type: ignore[arg-type]
    assert not (tmp_path / name).exists()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durable_workflows.cli", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_cli_refuses_an_output_suffix_it_cannot_write(tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(
        "from durable_workflows import WorkflowBuilder, executor\n"
        "@executor\ndef hello(name: str) -> str:\n    return name\n"
        "workflow = WorkflowBuilder(hello, name='Hello').build()\n"
    )
    jpg = _cli("render", "flows", "-o", "out.jpg", cwd=tmp_path)
    assert jpg.returncode == 2
    assert "error: cannot tell which format to write 'out.jpg' in" in jpg.stderr
    assert not (tmp_path / "out.jpg").exists()
    clash = _cli("render", "flows", "-o", "out.png", "-f", "svg", cwd=tmp_path)
    assert clash.returncode == 2 and "names the png format, not svg" in clash.stderr
    run = _cli("run", "flows", "--input", '"x"', "--render", "run.jpg", cwd=tmp_path)
    assert run.returncode == 2 and "--render: cannot tell which format" in run.stderr
    assert "started" not in run.stdout  # refused before the run
