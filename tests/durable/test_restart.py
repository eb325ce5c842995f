"""kill -9 a process hosting a run on `database=`; a new process on the same file finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "restart_host.py"


def test_run_survives_kill_9_of_its_host_process(tmp_path: Path) -> None:
    """K1: a new host on the same file finishes the run; the saved step does not run again."""
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


CHAIN = Path(__file__).resolve().parent / "chain_host.py"


def _kill_midway(tmp_path: Path, shape: str, delay: float) -> tuple[str, Counter[int], int]:
    """Start a run of `shape`, kill -9 its host after `delay` s, finish it in a new host."""
    db, log = str(tmp_path / "runs.db"), tmp_path / "steps.log"
    first = subprocess.Popen(
        [sys.executable, str(CHAIN), shape, db, str(log), "start"], stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None
        run_id = first.stdout.readline().strip()
        assert run_id, f"the first host exited early (rc={first.poll()})"
        time.sleep(delay)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    before = len(log.read_text().splitlines()) if log.exists() else 0
    second = subprocess.run(
        [sys.executable, str(CHAIN), shape, db, str(log), "finish", run_id],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert second.returncode == 0, second.stderr
    return second.stdout.strip(), Counter(int(x) for x in log.read_text().splitlines()), before


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3])
def test_a_chain_killed_at_any_step_finishes_and_repeats_at_most_the_steps_in_flight(
    tmp_path: Path, delay: float
) -> None:
    """K1: a step's result is saved with the next orchestrator step, so a crash repeats at
    most the steps whose results were not yet saved: the one running and the one whose result
    rode with the step in flight."""
    result, counts, before = _kill_midway(tmp_path, "chain", delay)
    assert before < 200, "killed midway (each step sleeps 2 ms)"
    assert result == "200"
    assert sorted(counts) == list(range(200)), "every step ran"
    repeated = [step for step, n in counts.items() if n > 1]
    assert all(counts[s] == 2 for s in repeated) and len(repeated) <= 2, repeated


def test_a_fan_out_killed_midway_finishes_with_every_result(tmp_path: Path) -> None:
    """K1: a fan-out's results are saved in groups, at most 5 ms after each: a crash reruns
    those not yet saved, once, and the sum is still right."""
    result, counts, before = _kill_midway(tmp_path, "fan", 0.05)
    assert before < 200, "killed midway (200 steps of 20 ms on 8 threads)"
    assert result == "200"  # each of the 200 returns its input (0) + 1
    assert sorted(counts) == list(range(200)), "every step ran"
    assert max(counts.values()) <= 2
