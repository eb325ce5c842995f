"""Doc blocks written as pytest modules (they import pytest, define tests) pass alone in a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from test_docs import DOCS, ROOT, Block, python_blocks

TEST_BLOCKS = [
    (path, block)
    for path in DOCS
    for block in python_blocks(path.read_text(encoding="utf-8"))
    if block.marker != "skip" and "import pytest" in block.code and "\ndef test_" in block.code
]


@pytest.mark.parametrize(
    ("path", "block"),
    TEST_BLOCKS,
    ids=[f"{p.relative_to(ROOT).as_posix()}:{b.line}" for p, b in TEST_BLOCKS],
)
def test_a_copied_test_block_passes_alone(path: Path, block: Block, tmp_path: Path) -> None:
    (tmp_path / "test_copied.py").write_text(block.code)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_copied.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_agents_guide_has_a_test_block() -> None:
    assert any(path.name == "agents.md" for path, _ in TEST_BLOCKS)
