"""The sidecar's clock: real time, or a virtual time that tests move forward by hand.

The sidecar reads the time in three places only: the ``orchestratorStarted`` timestamp (which
is the orchestrator's ``current_utc_datetime``, so timers, port timeouts and retry backoff are
computed from it), deciding which timers are due, and how long the timer thread may sleep. A
`VirtualClock` replaces all three, so a 24-hour timer fires the moment the clock is advanced
past it, through the same code path as in production.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from durable_workflows.sidecar.errors import SidecarError


class Clock(Protocol):
    """What the sidecar needs from a clock."""

    def time(self) -> float:
        """Now, in seconds since the epoch."""
        ...

    def seconds_until(self, moment: float) -> float:
        """Real seconds the timer thread may sleep before `moment` could have come."""
        ...

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever the time jumps (never, for the system clock)."""
        ...

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        """Stop calling `callback`."""
        ...


class SystemClock:
    """Real time."""

    def time(self) -> float:
        return time.time()

    def seconds_until(self, moment: float) -> float:
        return moment - time.time()

    def subscribe(self, callback: Callable[[], None]) -> None:
        pass

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        pass


class VirtualClock:
    """A clock that stands still until `advance` moves it (tests only).

    It starts at the real time of its creation (or `start`, seconds since the epoch), so
    timestamps look plausible. `advance` runs the subscribers (the sidecar delivers the timers
    that became due) before it returns.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def time(self) -> float:
        return self._now

    def seconds_until(self, moment: float) -> float:
        return 0.0 if moment <= self._now else math.inf

    def advance(self, delta: timedelta | float) -> float:
        """Move the time forward by `delta` (a timedelta or seconds); returns the new time."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        if seconds < 0:
            raise SidecarError(f"a virtual clock only moves forward; got {delta}")
        with self._lock:
            self._now += seconds
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()
        return self._now

    def subscribe(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def __repr__(self) -> str:
        return f"VirtualClock(time={self._now:.3f})"
