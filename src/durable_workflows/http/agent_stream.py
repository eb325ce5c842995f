"""Agent replies as Server-Sent Events: ``POST /api/agents/{name}/run?stream=true`` runs a turn
and streams its text; ``GET /api/agents/{name}/streams/{streamId}`` resumes it after a cursor.

Events: ``start`` (no id; the stream and thread ids), ``delta`` (``id:`` = its cursor; a piece
of text), ``restart`` (``id:`` = its cursor; a repeated model call: drop the current reply's
text so far), then ``done`` (the reply, as the JSON of a non-streamed run) or ``error``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from ..errors import DurableWorkflowsError, WorkflowNotFoundError
from ..hosting.agent_client import DurableAgent
from ..hosting.agent_stream import AgentStream
from ..model.agent_protocol import AgentInput
from .context import api_context
from .errors import AgentTurnFailedError, BadRequestError, ConflictError, NotFoundError
from .models import (
    AgentStreamDelta,
    AgentStreamDone,
    AgentStreamRestart,
    AgentStreamStart,
    ApiModel,
)
from .sse import HEADERS, MEDIA_TYPE, frame, with_heartbeat
from .views import agent_reply

STREAM_HEADER = "x-stream-id"
STREAM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
EVENTS: dict[str, type[ApiModel]] = {
    "start": AgentStreamStart,
    "delta": AgentStreamDelta,
    "restart": AgentStreamRestart,
    "done": AgentStreamDone,
}
"""The data of each event (the OpenAPI document describes them)."""

STREAM_PATH = "/api/agents/{name}/streams/{stream_id}"

router = APIRouter(tags=["agents"])


@router.get(
    STREAM_PATH,
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}}},
    summary="Resume a streamed reply after a cursor (Server-Sent Events)",
)
async def resume_stream(
    name: str,
    stream_id: str,
    request: Request,
    cursor: Annotated[
        int | None, Query(ge=0, description="Resume after this cursor (0: from the start).")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="last-event-id")] = None,
) -> StreamingResponse:
    agent = api_context(request).agent(name)
    thread = await agent.stream_thread(stream_id)
    if thread is None:
        raise NotFoundError(f"agent {name!r} has no stream {stream_id!r}")
    after = cursor if cursor is not None else _cursor(last_event_id)
    stream = agent.resume_stream(stream_id, cursor=after)
    return _response(stream, thread, _url(request, agent, stream_id))


async def stream_turn(
    agent: DurableAgent,
    message: AgentInput,
    thread: str,
    request: Request,
    stream_id: str | None = None,
) -> StreamingResponse:
    """Start a streamed turn (with the id `stream_id`, or a new one) and serve its events."""
    if stream_id is not None:
        if not STREAM_ID.match(stream_id):
            msg = f"streamId must be 1-128 letters, digits, '.', '_' or '-', not {stream_id!r}"
            raise BadRequestError(msg)
        await _check_unused(request, agent, stream_id)
    stream = agent.run_stream(message, thread=thread, stream_id=stream_id)
    try:
        await stream.start()
    except Exception:
        if stream_id is not None:  # 409 if a concurrent start with this id came first
            await _check_unused(request, agent, stream_id)
        raise
    return _response(stream, thread, _url(request, agent, stream.stream_id))


def _response(stream: AgentStream, thread: str, url: str) -> StreamingResponse:
    headers = {**HEADERS, "x-ms-thread-id": thread, STREAM_HEADER: stream.stream_id}
    body = with_heartbeat(_frames(stream, thread, url))
    return StreamingResponse(body, media_type=MEDIA_TYPE, headers=headers)


async def _frames(stream: AgentStream, thread: str, url: str) -> AsyncGenerator[bytes, None]:
    start = AgentStreamStart(stream_id=stream.stream_id, thread_id=thread, stream_url=url)
    yield frame("start", start.model_dump(by_alias=True))
    try:
        async for update in stream:
            if update.restart:
                restart = AgentStreamRestart(cursor=update.cursor)
                yield frame("restart", restart.model_dump(by_alias=True), update.cursor)
            else:
                delta = AgentStreamDelta(cursor=update.cursor, text=update.text)
                yield frame("delta", delta.model_dump(by_alias=True), update.cursor)
        response = await stream.response()
    except WorkflowNotFoundError:
        raise
    except DurableWorkflowsError as exc:
        raise AgentTurnFailedError(str(exc)) from exc
    reply = agent_reply(thread, response)
    done = AgentStreamDone(stream_id=stream.stream_id, **reply.model_dump())
    yield frame("done", done.model_dump(mode="json", by_alias=True))


async def _check_unused(request: Request, agent: DurableAgent, stream_id: str) -> None:
    """409 when `stream_id` is taken (a stream's id is the id of its turn's instance)."""
    client = api_context(request).client.durable_client
    if await client.get_orchestration_state(stream_id) is not None:
        msg = (
            f"the id {stream_id!r} is taken; resume that stream with "
            f"GET /api/agents/{agent.name}/streams/{stream_id}, or choose another streamId"
        )
        raise ConflictError(msg)


def _url(request: Request, agent: DurableAgent, stream_id: str) -> str:
    return f"{api_context(request).base(request)}/api/agents/{agent.name}/streams/{stream_id}"


def _cursor(last_event_id: str | None) -> int:
    if last_event_id is None or not last_event_id.strip():
        return 0
    if not last_event_id.strip().isdigit():
        raise BadRequestError(f"Last-Event-ID must be a cursor (a number), not {last_event_id!r}")
    return int(last_event_id)
