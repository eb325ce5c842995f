"""Helpers shared by the sidecar tests."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from durabletask import worker as dt_worker

QUIET = logging.getLogger("tests.sidecar.quiet")
QUIET.setLevel(logging.ERROR)


def start_worker(address: str, *, orchestrators: tuple[Any, ...] | list[Any] = (),
                 activities: tuple[Any, ...] | list[Any] = (),
                 entities: tuple[Any, ...] | list[Any] = (),
                 threads: int = 16, **kwargs: Any) -> dt_worker.TaskHubGrpcWorker:
    """A started durabletask worker with the given registrations."""
    w = dt_worker.TaskHubGrpcWorker(
        host_address=address, logger=QUIET,
        concurrency_options=dt_worker.ConcurrencyOptions(maximum_thread_pool_workers=threads),
        **kwargs)
    for fn in orchestrators:
        w.add_orchestrator(fn)
    for fn in activities:
        w.add_activity(fn)
    for ent in entities:
        w.add_entity(ent)
    w.start()
    return w


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0,
               interval: float = 0.02) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
