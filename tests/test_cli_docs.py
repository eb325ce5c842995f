"""docs/cli.md's `run` transcript is what the command prints on a terminal (answers typed in)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from test_cli_newcomer import _interact

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = re.compile(r"\(run [0-9a-f]+\)")


def _section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_run_transcript_is_what_a_terminal_shows() -> None:
    section = _section((ROOT / "docs/cli.md").read_text(), "run")
    command = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    transcript = section.split("```text\n", 1)[1].split("```", 1)[0]
    args = shlex.split(command)
    assert args[0] == "durable-workflows"
    answers = [line.split(")> ", 1)[1] for line in transcript.splitlines() if ")> " in line]
    screen = _interact(ROOT, args[1:], answers)
    assert RUN_ID.sub("(run ID)", screen).strip() == RUN_ID.sub("(run ID)", transcript).strip()
