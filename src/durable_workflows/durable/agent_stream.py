"""Durable agent response streams: text deltas published while the model produces them.

A streamed turn passes a `StreamPublisher` to the model call in the thread's entity. It sends
the deltas, in small batches, as signals to the stream's entity (``dw_agent_stream@<stream>``)
through a client of the worker's backend, so they are stored as they come, not when the turn
ends. Each item gets its cursor (1, 2, ...) in the order stored; a reader resumes after any
cursor. A model call that is repeated after a crash (a new *attempt* of the same step) first
stores a ``restart`` item: what came before it of that step is to be discarded.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import DurableWorkflowsError
from .names import AGENT_STREAM_ENTITY

FLUSH_INTERVAL = 0.05
"""Seconds between two batches of deltas (a batch is one signal to the stream's entity)."""

STREAM_RETENTION = timedelta(days=1)
"""A stream's entity deletes itself this long after its first delta."""


def agent_stream_entity(ctx: Any, payload: Any) -> Any:
    """Stores a stream's items: ``append`` (idempotent per attempt and index), ``get``."""
    state = ctx.get_state(None)
    if ctx.operation == "get":
        return state
    if ctx.operation == "delete":
        ctx.set_state(None)
        return None
    items: list[dict[str, Any]] = [] if state is None else state["items"]
    if state is None:
        fire_at = datetime.now(timezone.utc) + STREAM_RETENTION
        ctx.signal_entity(ctx.entity_id, "delete", None, signal_time=fire_at)
    attempts = {(i["step"], i["attempt"]) for i in items}
    seen = {(i["step"], i["attempt"], i["n"]) for i in items if "n" in i}
    for delta in payload:
        key = (delta["step"], delta["attempt"])
        if (*key, delta["n"]) in seen:
            continue
        if key not in attempts:
            if any(i["step"] == delta["step"] for i in items):
                items.append({"step": delta["step"], "attempt": delta["attempt"], "restart": True})
            attempts.add(key)
        items.append(delta)
        seen.add((*key, delta["n"]))
    ctx.set_state({"items": items})
    return None


class StreamSignaller:
    """Sends batches to stream entities through one lazily created durabletask client."""

    def __init__(self, client_factory: Callable[[], Any]) -> None:
        self._factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()

    def send(self, stream_id: str, items: list[dict[str, Any]]) -> None:
        """Signal ``append`` with `items` (returns once the backend has stored the signal)."""
        from durabletask.entities import EntityInstanceId

        with self._lock:
            if self._client is None:
                self._client = self._factory()
            client = self._client
        client.signal_entity(EntityInstanceId(AGENT_STREAM_ENTITY, stream_id), "append", items)

    def close(self) -> None:
        """Close the client (if one was made)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


class StreamPublisher:
    """Collects one model call's deltas and sends them in batches (an `on_delta` callback).

    A delta is sent at most `FLUSH_INTERVAL` after it arrives, with whatever followed it in
    the meantime; batches go out one at a time, in order.
    """

    def __init__(self, signaller: StreamSignaller | None, stream_id: str, step: int) -> None:
        if signaller is None:
            msg = (
                f"stream {stream_id!r}: this worker cannot publish streams (it was registered "
                "without a backend client); host agents with DurableWorkflowHost"
            )
            raise DurableWorkflowsError(msg)
        self._signaller = signaller
        self.stream_id = stream_id
        self.step = step
        self.attempt = uuid.uuid4().hex
        self.count = 0
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __call__(self, text: str) -> None:
        with self._lock:
            self.count += 1
            self._pending.append(
                {"step": self.step, "attempt": self.attempt, "n": self.count, "text": text}
            )
            if self._timer is None:
                self._timer = threading.Timer(FLUSH_INTERVAL, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Send what is pending now."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            batch, self._pending = self._pending, []
            if batch:
                try:
                    self._signaller.send(self.stream_id, batch)
                except Exception:
                    self._pending = batch + self._pending  # the final flush tries again
                    raise

    def summary(self) -> dict[str, Any]:
        """Which attempt of which step the stream ends with, and how many deltas it had."""
        return {"step": self.step, "attempt": self.attempt, "count": self.count}
