"""The documentation site: every public name has a reference entry, every page is in the nav.

`mkdocs build --strict` itself runs in scripts/test.sh (so in CI): it fails on a broken link
or a reference entry that does not resolve.
"""

from __future__ import annotations

import re
from pathlib import Path

import durable_workflows

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_every_public_name_is_in_the_api_reference() -> None:
    text = "\n".join(p.read_text() for p in sorted((DOCS / "reference").glob("*.md")))
    entries = set(re.findall(r"^::: (\S+)", text, re.MULTILINE))
    missing = [
        name
        for name in durable_workflows.__all__
        if name != "__version__" and f"durable_workflows.{name}" not in entries
    ]
    assert missing == [], f"add `::: durable_workflows.NAME` to a page of docs/reference/: {missing}"


def test_every_page_is_in_the_site_navigation() -> None:
    nav = set(re.findall(r"^\s*- (?:[^:\n]+: )?(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M))
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert [page for page in pages if page not in nav] == []


def test_the_docs_install_from_the_repository_not_from_an_index() -> None:
    pattern = re.compile(r"pip install [\"']?durable[_-]workflows")
    sources = [ROOT / "README.md", *DOCS.rglob("*.md"), *(ROOT / "src").rglob("*.py")]
    offenders = [str(p.relative_to(ROOT)) for p in sources if pattern.search(p.read_text())]
    assert offenders == []
