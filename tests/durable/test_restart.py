"""kill -9 a process hosting a run on `database=`; a new process on the same file finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "restart_host.py"


def test_run_survives_kill_9_of_its_host_process(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    env = {**os.environ, "DW_CRASH_COUNT_DIR": str(tmp_path), "DW_CRASH_STEP2_SLEEP": "0"}
    first = subprocess.Popen(
        [sys.executable, str(SCRIPT), db, "start"], stdout=subprocess.PIPE, text=True, env=env
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
        env=env,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "done 10"
    counts = {s: len((tmp_path / s).read_text().splitlines()) for s in ("step1", "step2", "step3")}
    assert counts == {"step1": 1, "step2": 1, "step3": 1}  # step1 ran before the kill, once
