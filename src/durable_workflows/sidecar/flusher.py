"""Deferred commits: a local worker's activity results are saved in groups, within a bound.

Waiting for its own commit after every activity result makes a fan-out of 1,000 activities
1,000 SQLite transactions. A `LocalWorker` instead acknowledges an activity result once it is
applied (the orchestrator sees it at once, from memory). If the thread runs an orchestrator
step next, that step's commit saves it; otherwise a `Flusher` commits everything pending at
most `delay` seconds later. Any other commit in between (another step's, a client call's) saves
it sooner. A crash inside that window runs the activity again, as a crash
just before its result was saved would: activities are at least once (docs/sidecar.md).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from durable_workflows.sidecar.writer import TransactionFailedError

log = logging.getLogger("durable_workflows.sidecar")

FLUSH_DELAY = 0.005
"""The longest an acknowledged activity result waits for its commit, in seconds."""


class Flusher:
    """Commits an engine's pending changes at most `delay` seconds after `defer` is called."""

    def __init__(self, engine: Any, delay: float = FLUSH_DELAY) -> None:
        self._engine = engine
        self._delay = delay
        self._due: float | None = None
        self._stopping = False
        self._cv = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="dw-local-flusher", daemon=True)
        self._thread.start()

    def defer(self) -> None:
        """A change was applied and acknowledged without its commit: commit it soon."""
        with self._cv:
            if self._due is None:
                self._due = time.monotonic() + self._delay
                self._cv.notify()

    def stop(self) -> None:
        """Commit what is pending, then end the thread."""
        with self._cv:
            self._stopping = True
            self._cv.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._due is None and not self._stopping:
                    self._cv.wait()
                wait = 0.0 if self._due is None else self._due - time.monotonic()
                if wait > 0 and not self._stopping:
                    self._cv.wait(wait)
                    continue
                self._due, stopping = None, self._stopping
            try:
                self._engine.sync()
            except TransactionFailedError:  # the engine reloaded; the activities come again
                log.warning("deferred activity results were not saved; they will run again")
            if stopping:
                return
