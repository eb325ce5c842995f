"""Server-Sent Events: a run's events (one SSE event per workflow event, ``id:`` = its
sequence), and the framing shared with the agent reply streams.

A client resumes exactly where it stopped with ``Last-Event-ID`` (or ``?from=``); the stream
ends after the run's terminal event. While nothing happens a comment line is sent every
`HEARTBEAT` seconds so proxies keep the connection open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

from ..errors import DurableWorkflowsError
from ..hosting.runs import StreamingWorkflowRun
from ..runtime.events import WorkflowEvent
from .errors import LOG, error_body
from .views import event_json

HEARTBEAT = 15.0
MEDIA_TYPE = "text/event-stream"
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def frame(event: str, data: object, event_id: int | None = None) -> bytes:
    """One SSE event: ``id`` (if given), ``event`` and ``data`` (one line of JSON)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = "" if event_id is None else f"id: {event_id}\n"
    return f"{head}event: {event}\ndata: {text}\n\n".encode()


def sse_frame(event: WorkflowEvent, data: dict[str, object]) -> bytes:
    """A workflow event: ``id`` its sequence, ``event`` its type."""
    return frame(event.type, data, event.sequence)


def run_events(
    run: StreamingWorkflowRun, from_sequence: int, heartbeat: float = HEARTBEAT
) -> AsyncIterator[bytes]:
    """The run's events after `from_sequence` as SSE frames, until its terminal event."""

    async def frames() -> AsyncGenerator[bytes, None]:
        async with aclosing(run.watch_stream(from_sequence)) as stream:
            async for event in stream:
                yield sse_frame(event, event_json(event, run.workflow))

    return with_heartbeat(frames(), heartbeat)


async def with_heartbeat(
    frames: AsyncGenerator[bytes, None], heartbeat: float = HEARTBEAT
) -> AsyncIterator[bytes]:
    """``retry: 1000``, then `frames`, with a keep-alive comment whenever none came for
    `heartbeat` seconds; an error raised by `frames` ends the stream with an ``error`` event."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=256)

    async def pump() -> None:
        try:
            async with aclosing(frames):
                async for item in frames:
                    await queue.put(item)
        except Exception as exc:  # reported to the reader, which ends the stream
            await queue.put(error_frame(exc))
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
            yield item
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def error_frame(exc: BaseException) -> bytes:
    """An ``error`` event ending a stream that failed (a generic one for unexpected errors)."""
    if isinstance(exc, DurableWorkflowsError):
        body = error_body(type(exc).__name__, str(exc))
    else:
        LOG.error("the event stream failed", exc_info=exc)
        body = error_body("InternalServerError", "the event stream failed; see the server's log")
    return f"event: error\ndata: {json.dumps(body)}\n\n".encode()
