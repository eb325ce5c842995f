"""Helpers shared by the size, waiter, stale-timer and client-error reliability tests."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

QUIET = logging.getLogger("tests.reliability.quiet")
QUIET.setLevel(logging.CRITICAL)

MB = 1_000_000


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> None:
    """Poll `predicate` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
