"""C2: a delay is a durable timer: kill -9 the process hosting the run while the delay runs,
and a new process on the same database finishes the run once the delay is over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "delay_host.py"


def test_a_delay_survives_kill_9_of_its_host_process(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    began = time.monotonic()
    first = subprocess.Popen(
        [sys.executable, str(SCRIPT), db, "start"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert first.stdout is not None
        run_id = first.stdout.readline().strip()
        assert run_id, f"the first host exited early (rc={first.poll()})"
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    second = subprocess.run(
        [sys.executable, str(SCRIPT), db, "finish", run_id],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "done 2"
    assert time.monotonic() - began >= 3  # the delay was honoured, not skipped
