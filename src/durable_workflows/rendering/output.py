"""The public rendering functions: DOT and Mermaid text, and images drawn by graphviz."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Literal

from ..errors import DurableWorkflowsError
from .dot import model_to_dot
from .mermaid import model_to_mermaid
from .model import GraphLike, build_model
from .overlay import RunOverlay
from .programs import (
    INSTALL_HINT,
    PURE_FORMATS,
    find_renderer,
    missing_renderer_html,
    missing_renderer_svg,
)

Format = Literal["svg", "png", "pdf", "dot", "mermaid"]

FORMATS: tuple[Format, ...] = ("svg", "png", "pdf", "dot", "mermaid")
"""What `render` writes: images drawn by graphviz, or the DOT and Mermaid text."""

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


class RenderingError(DurableWorkflowsError):
    """A diagram could not be drawn: no graphviz program, it failed, or a bad format."""


def workflow_to_dot(workflow: GraphLike, *, overlay: RunOverlay | None = None) -> str:
    """DOT source for `workflow` (a `Workflow` or `WorkflowBuilder`), optionally with a run."""
    return model_to_dot(build_model(workflow), overlay)


def workflow_to_mermaid(workflow: GraphLike) -> str:
    """A Mermaid ``flowchart`` for `workflow`."""
    return model_to_mermaid(build_model(workflow))


def workflow_to_svg(workflow: GraphLike, *, overlay: RunOverlay | None = None) -> str:
    """The SVG drawing of `workflow`, made by graphviz (`dot`, or graphviz-pure)."""
    return run_dot(workflow_to_dot(workflow, overlay=overlay), "svg").decode("utf-8")


def inline_svg(workflow: GraphLike) -> str | None:
    """The SVG a notebook shows inline (`_repr_svg_`): the drawing; with no graphviz program,
    an SVG note saying what to install; None when the program fails (the text repr shows)."""
    if find_renderer() is None:
        return missing_renderer_svg()
    try:
        return workflow_to_svg(workflow)
    except RenderingError:
        return None


def inline_html() -> str | None:
    """A notebook's `_repr_html_`: None (the SVG shows) while a graphviz program exists, else
    an HTML note on what to install, which notebooks show in preference to the SVG."""
    return missing_renderer_html() if find_renderer() is None else None


def render(
    workflow: GraphLike,
    path: str | Path,
    format: Format | None = None,
    *,
    overlay: RunOverlay | None = None,
) -> Path:
    """Write `workflow` to `path` as svg, png or pdf (need graphviz), dot or mermaid text.

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
    """Lay out DOT `source` as `format` with graphviz `dot` (else graphviz-pure)."""
    renderer = find_renderer()
    if renderer is None:
        msg = f"graphviz `dot` was not found on PATH, nor graphviz-pure. {INSTALL_HINT}"
        raise RenderingError(msg)
    if not renderer.draws(format):
        msg = (
            f"graphviz-pure ({renderer.path}) draws {' and '.join(sorted(PURE_FORMATS))}, not "
            f"{format}; install graphviz for {format} (`apt-get install graphviz`, "
            "`brew install graphviz` or `conda install -c conda-forge graphviz`)"
        )
        raise RenderingError(msg)
    try:
        done = subprocess.run(
            [renderer.path, f"-T{format}"],
            input=source.encode("utf-8"),
            capture_output=True,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderingError(f"{renderer.name} ({renderer.path}) could not run: {exc}") from exc
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip()
        msg = f"{renderer.name} -T{format} failed (exit {done.returncode}): {error}"
        raise RenderingError(msg)
    return done.stdout
