"""The public rendering functions: DOT and Mermaid text, and images drawn by graphviz `dot`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Literal

from ..errors import DurableWorkflowsError
from .dot import model_to_dot
from .mermaid import model_to_mermaid
from .model import GraphLike, build_model
from .overlay import RunOverlay

Format = Literal["svg", "png", "pdf", "dot", "mermaid"]

FORMATS: tuple[Format, ...] = ("svg", "png", "pdf", "dot", "mermaid")
"""What `render` writes: images drawn by `dot`, or the DOT and Mermaid text."""

SUFFIX_FORMATS: dict[str, Format] = {
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".dot": "dot",
    ".gv": "dot",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
}
"""The format each file suffix names."""

INSTALL_HINT = (
    "Install graphviz, which provides it: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`. "
    "Text output needs no binary: use format='dot' or format='mermaid' "
    "(or workflow_to_dot / workflow_to_mermaid)."
)


class RenderingError(DurableWorkflowsError):
    """A diagram could not be drawn: graphviz `dot` is missing or failed, or a bad format."""


def workflow_to_dot(workflow: GraphLike, *, overlay: RunOverlay | None = None) -> str:
    """DOT source for `workflow` (a `Workflow` or `WorkflowBuilder`), optionally with a run."""
    return model_to_dot(build_model(workflow), overlay)


def workflow_to_mermaid(workflow: GraphLike) -> str:
    """A Mermaid ``flowchart`` for `workflow`."""
    return model_to_mermaid(build_model(workflow))


def workflow_to_svg(workflow: GraphLike, *, overlay: RunOverlay | None = None) -> str:
    """The SVG drawing of `workflow`, made by graphviz `dot`."""
    return run_dot(workflow_to_dot(workflow, overlay=overlay), "svg").decode("utf-8")


def inline_svg(workflow: GraphLike) -> str | None:
    """The SVG a notebook shows inline, or None (so it shows the text repr) without `dot`."""
    try:
        return workflow_to_svg(workflow)
    except RenderingError:
        return None


def render(
    workflow: GraphLike,
    path: str | Path,
    format: Format | None = None,
    *,
    overlay: RunOverlay | None = None,
) -> Path:
    """Write `workflow` to `path` as svg, png or pdf (needs `dot`), dot or mermaid text.

    The format is the one `path`'s suffix names (`SUFFIX_FORMATS`); `format` is needed only
    for other suffixes, and a `format` the suffix contradicts is refused.
    """
    target = Path(path)
    format = output_format(target, format)
    if format == "mermaid":
        target.write_text(workflow_to_mermaid(workflow), encoding="utf-8")
    elif format == "dot":
        target.write_text(workflow_to_dot(workflow, overlay=overlay), encoding="utf-8")
    else:
        target.write_bytes(run_dot(workflow_to_dot(workflow, overlay=overlay), format))
    return target


def output_format(path: Path, format: str | None) -> Format:
    """The format to write `path` in: the one its suffix names, else `format` (checked)."""
    if format is not None and format not in FORMATS:
        msg = f"unknown diagram format {format!r}; use one of {', '.join(FORMATS)}"
        raise RenderingError(msg)
    named = SUFFIX_FORMATS.get(path.suffix.lower())
    if named is not None and format is not None and named != format:
        msg = f"{path.name!r} names the {named} format, not {format}; change the suffix or the format"
        raise RenderingError(msg)
    chosen = named or format
    if chosen is None:
        suffixes = ", ".join(SUFFIX_FORMATS)
        msg = (
            f"cannot tell which format to write {path.name!r} in: {path.suffix or 'no suffix'} "
            f"is not a diagram format. Use one of {suffixes}, or name the format "
            f"({', '.join(FORMATS)})"
        )
        raise RenderingError(msg)
    return chosen


def run_dot(source: str, format: str) -> bytes:
    """Run graphviz `dot -T<format>` on DOT `source` and return its output."""
    binary = shutil.which("dot")
    if binary is None:
        raise RenderingError(f"graphviz `dot` was not found on PATH. {INSTALL_HINT}")
    try:
        done = subprocess.run(
            [binary, f"-T{format}"],
            input=source.encode("utf-8"),
            capture_output=True,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderingError(f"graphviz `dot` ({binary}) could not run: {exc}") from exc
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip()
        msg = f"graphviz `dot -T{format}` failed (exit {done.returncode}): {error}"
        raise RenderingError(msg)
    return done.stdout
