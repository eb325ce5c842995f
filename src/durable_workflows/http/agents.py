"""The agent routes, in the Agent Framework's shapes: run a turn (or stream it, see
`agent_stream`), read and delete a thread.

The thread comes from ``?thread_id=``, the ``x-ms-thread-id`` header or the body's
``threadId``; a bare key (``abc``) stands for the agent's thread ``@dafx-<agent>@abc``.
Replies carry the thread id in the body and in ``x-ms-thread-id``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError

from ..agents._names import parse_thread_id
from ..durable.names import thread_id as make_thread_id
from ..errors import DurableWorkflowsError, InvalidResponseError
from ..hosting.agent_client import DurableAgent
from ..model.agent_protocol import AgentInput, ChatMessage
from .agent_stream import stream_turn
from .context import api_context
from .errors import AgentTurnFailedError, BadRequestError, HttpApiError, NotFoundError
from .models import (
    AgentAccepted,
    AgentInfo,
    AgentList,
    AgentReply,
    ThreadHistory,
    ThreadInfo,
    ThreadList,
)
from .sse import MEDIA_TYPE
from .views import agent_reply, thread_messages, types_schema

THREAD_HEADER = "x-ms-thread-id"
WAIT_HEADER = "x-ms-wait-for-response"
LOG = logging.getLogger("durable_workflows.http")

router = APIRouter(prefix="/api/agents", tags=["agents"])
_background: set[asyncio.Task[Any]] = set()


@router.get("", response_model=AgentList, summary="List the hosted agents")
async def list_agents(request: Request) -> AgentList:
    ctx = api_context(request)
    base = ctx.base(request)
    return AgentList(
        agents=[
            AgentInfo(
                name=a.name,
                response_schema=_value_schema(a),
                url=f"{base}/api/agents/{a.name}",
            )
            for a in ctx.agents
        ]
    )


@router.post(
    "/{name}/run",
    response_model=AgentReply,
    responses={
        200: {"content": {MEDIA_TYPE: {"schema": {"type": "string"}}}},
        202: {"model": AgentAccepted},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "message": {"type": "string"},
                            "threadId": {"type": "string"},
                            "waitForResponse": {"type": "boolean"},
                        },
                        "required": ["message"],
                    }
                },
            }
        }
    },
    summary="Run one turn (body: the message as text/plain, or JSON)",
    description="With `?stream=true` (or `Accept: text/event-stream`) the reply's text comes "
    "as Server-Sent Events: `start` (`AgentStreamStart`), `delta` (`AgentStreamDelta`, `id:` its "
    "cursor), `restart` (`AgentStreamRestart`), then `done` (`AgentStreamDone`) or `error`; "
    "resume with `GET /api/agents/{name}/streams/{streamId}`.",
)
async def run_agent(
    name: str,
    request: Request,
    stream: Annotated[
        bool | None, Query(description="Stream the reply as Server-Sent Events.")
    ] = None,
    stream_id: Annotated[
        str | None,
        Query(
            alias="streamId",
            description="The stream's id (default: a new one); a taken id is 409.",
        ),
    ] = None,
) -> Response:
    agent = api_context(request).agent(name)
    body = await _turn_body(request)
    thread = _thread(agent, request, body.get("threadId", body.get("thread_id")))
    message = _message(body.get("message"))
    if body.get("responseFormat", body.get("response_format")) is not None:
        msg = (
            f"agent {name!r} answers in its own response format; a request cannot set one "
            "(a format is a Python class the worker imports, not a JSON schema): remove "
            "responseFormat, or serve an agent with that response_format"
        )
        raise BadRequestError(msg)
    headers = {THREAD_HEADER: thread}
    if stream or (stream is None and _wants_events(request)):
        if not _wait(request, body):
            raise BadRequestError(
                "a streamed turn cannot also be fire-and-forget: "
                "drop waitForResponse=false (or stream=true)"
            )
        return await stream_turn(agent, message, thread, request, stream_id)
    if stream_id is not None:
        raise BadRequestError("streamId names a streamed turn: add ?stream=true")
    if not _wait(request, body):
        task = asyncio.create_task(_turn(agent, message, thread))
        _background.add(task)
        task.add_done_callback(_finished)
        accepted = AgentAccepted(thread_id=thread)
        return JSONResponse(accepted.model_dump(by_alias=True), status_code=202, headers=headers)
    response = await _turn(agent, message, thread)
    if _wants_text(request):
        return PlainTextResponse(response.text, headers=headers)
    reply = agent_reply(thread, response)
    return JSONResponse(reply.model_dump(mode="json", by_alias=True), headers=headers)


@router.get("/{name}/threads", response_model=ThreadList, summary="The agent's threads")
async def list_threads(name: str, request: Request) -> ThreadList:
    from durabletask.client import EntityQuery

    from ..durable.names import agent_entity_name

    ctx = api_context(request)
    agent = ctx.agent(name)
    prefix = f"@{agent_entity_name(agent.name)}@"
    query = EntityQuery(instance_id_starts_with=prefix, include_state=False)
    found = await ctx.client.durable_client.get_all_entities(query)
    threads = [ThreadInfo(thread_id=str(e.id), last_modified=e.last_modified) for e in found]
    threads.sort(key=lambda t: t.last_modified, reverse=True)
    return ThreadList(threads=threads)


@router.get(
    "/{name}/threads/{thread_id}",
    response_model=ThreadHistory,
    response_model_exclude_none=True,
    summary="A thread's messages, tool calls and tool results included",
)
async def thread_history(name: str, thread_id: str, request: Request) -> ThreadHistory:
    agent = api_context(request).agent(name)
    thread = _normalize(agent, thread_id)
    messages = await agent.get_history(thread)
    if not messages:
        raise NotFoundError(f"agent {name!r} has no thread {thread!r}")
    return ThreadHistory(thread_id=thread, messages=thread_messages(messages))


@router.delete("/{name}/threads/{thread_id}", status_code=204, summary="Delete a thread")
async def delete_thread(name: str, thread_id: str, request: Request) -> Response:
    agent = api_context(request).agent(name)
    await agent.delete_thread(_normalize(agent, thread_id))
    return Response(status_code=204)


# -- helpers ----------------------------------------------------------------------------------


async def _turn(agent: DurableAgent, message: AgentInput, thread: str) -> Any:
    try:
        return await agent.run(message, thread_id=thread)
    except (HttpApiError, InvalidResponseError, TimeoutError):
        raise
    except DurableWorkflowsError as exc:
        raise AgentTurnFailedError(str(exc)) from exc


def _finished(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        LOG.warning("a background agent turn failed: %s", task.exception())


async def _turn_body(request: Request) -> dict[str, Any]:
    """The request as a dict: JSON bodies as given, any other body as ``{"message": text}``."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            data = json.loads(raw) if raw.strip() else None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadRequestError(f"the request body is not valid JSON: {exc}") from exc
        if isinstance(data, str):
            return {"message": data}
        if not isinstance(data, dict):
            raise BadRequestError('send {"message": "...", "threadId": "..."} or text/plain')
        return data
    try:
        return {"message": raw.decode("utf-8")}
    except UnicodeDecodeError as exc:
        raise BadRequestError("a text/plain message must be UTF-8") from exc


def _message(value: Any) -> AgentInput:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value:
        try:
            return [ChatMessage.model_validate(m) for m in value]
        except ValidationError as exc:
            raise BadRequestError(f"invalid chat message in the list: {exc}") from exc
    raise BadRequestError('the message is empty: send the text as the body, or {"message": ...}')


def _thread(agent: DurableAgent, request: Request, from_body: Any) -> str:
    """The thread of a turn: one given (query, header, body: they must agree) or a new one."""
    given = {
        "?thread_id": request.query_params.get("thread_id"),
        THREAD_HEADER: request.headers.get(THREAD_HEADER),
        "threadId": from_body,
    }
    found = {where: _normalize(agent, str(value)) for where, value in given.items() if value}
    if len(set(found.values())) > 1:
        raise BadRequestError(f"conflicting thread ids: {found}")
    return next(iter(found.values())) if found else agent.new_thread_id()


def _normalize(agent: DurableAgent, value: str) -> str:
    """A full thread id of `agent` from a full id or a bare key."""
    full = value if value.startswith("@") else make_thread_id(agent.name, value)
    return str(parse_thread_id(full, agent_name=agent.name))


def _wait(request: Request, body: dict[str, Any]) -> bool:
    header = request.headers.get(WAIT_HEADER)
    if header is not None:
        return header.strip().lower() not in ("false", "0", "no")
    flag = body.get("waitForResponse", body.get("wait_for_response", True))
    return flag is not False


def _wants_events(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return accept.split(";")[0].strip().lower() == MEDIA_TYPE


def _wants_text(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/plain" in accept and "application/json" not in accept


def _value_schema(agent: DurableAgent) -> dict[str, Any] | None:
    fmt = getattr(agent.agent, "response_format", None)
    return None if fmt is None else types_schema((fmt,))
