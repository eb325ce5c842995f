"""Server-Sent Events of a run: one SSE event per workflow event, ``id:`` = its sequence.

A client resumes exactly where it stopped with ``Last-Event-ID`` (or ``?from=``); the stream
ends after the run's terminal event. While nothing happens a comment line is sent every
`HEARTBEAT` seconds so proxies keep the connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import aclosing

from ..errors import DurableWorkflowsError
from ..hosting.client import StreamingWorkflowRun
from ..runtime.events import WorkflowEvent
from .errors import LOG, error_body
from .views import event_json

HEARTBEAT = 15.0
MEDIA_TYPE = "text/event-stream"
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def sse_frame(event: WorkflowEvent, data: dict[str, object]) -> bytes:
    """One SSE event: ``id``, ``event`` (the event type) and ``data`` (one line of JSON)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.sequence}\nevent: {event.type}\ndata: {text}\n\n".encode()


async def run_events(
    run: StreamingWorkflowRun, from_sequence: int, heartbeat: float = HEARTBEAT
) -> AsyncIterator[bytes]:
    """The run's events after `from_sequence` as SSE frames, until its terminal event."""
    queue: asyncio.Queue[WorkflowEvent | BaseException | None] = asyncio.Queue(maxsize=256)

    async def pump() -> None:
        try:
            async with aclosing(run.watch_stream(from_sequence)) as stream:
                async for event in stream:
                    await queue.put(event)
        except Exception as exc:  # reported to the reader, which ends the stream
            await queue.put(exc)
        else:
            await queue.put(None)

    task = asyncio.create_task(pump())
    try:
        yield b"retry: 1000\n\n"
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), heartbeat)
            except asyncio.TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                yield _error_frame(item)
                return
            yield sse_frame(item, event_json(item, run.workflow))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def _error_frame(exc: BaseException) -> bytes:
    """An ``error`` event ending a stream that failed (a generic one for unexpected errors)."""
    if isinstance(exc, DurableWorkflowsError):
        body = error_body(type(exc).__name__, str(exc))
    else:
        LOG.error("the event stream failed", exc_info=exc)
        body = error_body("InternalServerError", "the event stream failed; see the server's log")
    return f"event: error\ndata: {json.dumps(body)}\n\n".encode()
