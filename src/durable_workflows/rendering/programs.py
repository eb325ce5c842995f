"""Which program lays diagrams out: graphviz `dot`, else graphviz-pure from the `render` extra.

graphviz-pure (the ``render`` extra: ``pip install -e '.[render]'``) is a Rust port of Graphviz 16 that
installs a ``graphviz-pure`` command with `dot`'s flags, so SVG needs no system package. It is
looked up on PATH and next to the running interpreter (a virtualenv's ``bin`` that is not on
PATH). docs/rendering.md says why it was chosen.
"""

from __future__ import annotations

import html
import os
import shutil
import sysconfig
from dataclasses import dataclass

DOT = "dot"
PURE = "graphviz-pure"
PURE_FORMATS = frozenset({"svg", "png"})
"""What graphviz-pure draws (no pdf yet)."""

INSTALL_HINT = (
    "Install graphviz-pure, which needs no system package: pip install -e '.[render]' "
    "in a clone of durable_workflows; or graphviz itself: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`. "
    "Text output needs no program: use format='dot' or format='mermaid' "
    "(or workflow_to_dot / workflow_to_mermaid)."
)


@dataclass(frozen=True)
class Renderer:
    """A graphviz program found on this machine: `name` is ``dot`` or ``graphviz-pure``."""

    name: str
    path: str

    def draws(self, format: str) -> bool:
        """Whether this program can write `format`."""
        return self.name == DOT or format in PURE_FORMATS


def find_renderer() -> Renderer | None:
    """`dot` on PATH, else graphviz-pure (on PATH or beside the interpreter), else None."""
    dot = shutil.which(DOT)
    if dot is not None:
        return Renderer(DOT, dot)
    for search in (None, *_script_dirs()):
        pure = shutil.which(PURE, path=search)
        if pure is not None:
            return Renderer(PURE, pure)
    return None


def _script_dirs() -> list[str]:
    """Where pip puts commands for this interpreter: its scheme's and the user scheme's."""
    found = []
    for scheme in (None, f"{os.name}_user"):
        try:
            path = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        except KeyError:  # no such scheme on this platform
            continue
        if path and path not in found:
            found.append(path)
    return found


MISSING = (
    "This workflow cannot be drawn: no graphviz program was found.",
    "pip install -e '.[render]' in a clone of durable_workflows adds one (graphviz-pure);",
    "or install graphviz: apt-get install graphviz, brew install graphviz.",
    "workflow.to_mermaid() and workflow.to_dot() need nothing.",
)
"""What a notebook shows in place of a diagram when no program can draw it."""


def missing_renderer_html() -> str:
    """`MISSING` as an HTML note."""
    first, *rest = (html.escape(line) for line in MISSING)
    return f'<div role="note"><strong>{first}</strong><br>' + "<br>".join(rest) + "</div>"


def missing_renderer_svg() -> str:
    """`MISSING` as a small SVG image (for frontends that show only SVG)."""
    lines = "".join(
        f'<text x="8" y="{20 + 18 * i}">{html.escape(line)}</text>' for i, line in enumerate(MISSING)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="90" '
        'font-family="Helvetica,sans-serif" font-size="13">'
        f'<rect width="100%" height="100%" fill="#fff8e1" stroke="#b7950b"/>{lines}</svg>'
    )
