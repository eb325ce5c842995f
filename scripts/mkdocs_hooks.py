"""mkdocs hooks: publish the repository's diagrams/ beside the docs.

The docs link to ``../diagrams/...`` so that they also read well on a code host; the site
serves those files at ``diagrams/...`` and the links are rewritten to match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent


def on_files(files: Files, config: Any) -> Files:
    """Add every SVG under diagrams/ to the site."""
    for path in sorted((ROOT / "diagrams").rglob("*.svg")):
        src = path.relative_to(ROOT).as_posix()
        files.append(File(src, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """``../diagrams/x.svg`` (relative to docs/) becomes ``diagrams/x.svg`` (in the site)."""
    return markdown.replace("](../diagrams/", "](diagrams/")
