"""The workflow routes: list, describe, run, status, respond, events (SSE), cancel, runs."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from ..durable.names import orchestrator_name
from ..errors import WorkflowNotFoundError
from ..graph.workflow import Workflow
from ..hosting.client import WorkflowClient
from ..hosting.run_info import RunState
from ..hosting.runs import RunStatus, StreamingWorkflowRun
from ..rendering import workflow_to_svg
from ..runtime.engine import Engine
from ..runtime.events import WaitingForInputEvent
from ..values.serialization import to_json
from .context import ApiContext, api_context
from .errors import BadRequestError, ConflictError, NotFoundError
from .models import (
    CancelBody,
    RespondAccepted,
    RespondBody,
    RunAccepted,
    RunError,
    RunList,
    RunStatusBody,
    WorkflowDetail,
    WorkflowList,
)
from .sse import HEADERS, MEDIA_TYPE, run_events
from .views import (
    pending_request,
    run_error,
    run_urls,
    summary_body,
    workflow_detail,
    workflow_info,
)

MAX_WAIT = 200.0
"""Longest ``wait`` a run request may ask for (seconds)."""
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

router = APIRouter(prefix="/api/workflows", tags=["workflows"])


@router.get("", response_model=WorkflowList, summary="List the workflows")
async def list_workflows(request: Request) -> WorkflowList:
    ctx = api_context(request)
    return WorkflowList(
        workflows=[workflow_info(w, ctx.base(request)) for w in ctx.workflows.values()]
    )


@router.get("/{name}", response_model=WorkflowDetail, summary="Describe a workflow and its graph")
async def describe_workflow(name: str, request: Request) -> WorkflowDetail:
    ctx = api_context(request)
    return workflow_detail(ctx.workflow(name), ctx.base(request))


@router.get(
    "/{name}/graph.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
    summary="The workflow's graph as SVG (needs graphviz)",
)
async def workflow_svg(name: str, request: Request) -> Response:
    ctx = api_context(request)
    workflow = ctx.workflow(name)
    svg = ctx.svg_cache.get(name)
    if svg is None:
        svg = ctx.svg_cache[name] = await asyncio.to_thread(workflow_to_svg, workflow)
    return Response(svg, media_type="image/svg+xml")


@router.post(
    "/{name}/run",
    status_code=202,
    response_model=RunAccepted,
    responses={200: {"model": RunStatusBody, "description": "The run finished within `wait`."}},
    summary="Start a run (body: the workflow input as JSON)",
)
async def run_workflow(
    name: str,
    request: Request,
    run_id: Annotated[
        str | None,
        Query(alias="runId", description="Idempotent start: the same id returns the same run."),
    ] = None,
    wait: Annotated[
        float,
        Query(ge=0, le=MAX_WAIT, description="Seconds to wait for the run to finish or wait."),
    ] = 0,
) -> Response:
    ctx = api_context(request)
    workflow = ctx.workflow(name)
    if run_id is not None and not RUN_ID.match(run_id):
        msg = f"runId {run_id!r} is not valid: use 1-128 letters, digits, '.', '_', ':' or '-'"
        raise BadRequestError(msg)
    value = _json_body(await request.body(), "the workflow input")
    run = await ctx.client.stream(workflow, value, run_id=run_id, if_exists="return")
    base = ctx.base(request)
    urls = run_urls(base, name, run.run_id)
    headers = {"location": urls["status_url"]}
    status = await run.wait_until_settled(wait) if wait > 0 else None
    if status is not None and not status.is_active:
        body = await _status_body(run, status, base)
        return JSONResponse(body.model_dump(mode="json", by_alias=True), headers=headers)
    state: RunState = "pending" if status is None else status.state
    accepted = RunAccepted(run_id=run.run_id, status=state, **urls)
    return JSONResponse(accepted.model_dump(by_alias=True), status_code=202, headers=headers)


@router.get("/{name}/status/{run_id}", response_model=RunStatusBody, summary="A run's status")
async def run_status(name: str, run_id: str, request: Request) -> RunStatusBody:
    ctx = api_context(request)
    run = await _find_run(ctx, name, run_id)
    return await _status_body(run, await run.get_status(), ctx.base(request))


@router.post(
    "/{name}/respond/{run_id}",
    status_code=202,
    response_model=RespondAccepted,
    responses={200: {"model": RunStatusBody, "description": "The run's status after `wait`."}},
    summary="Answer a waiting request",
)
async def respond(
    name: str,
    run_id: str,
    body: RespondBody,
    request: Request,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT,
            description="Seconds to wait for the run to take the answer and finish or wait again.",
        ),
    ] = 0,
) -> Response:
    ctx = api_context(request)
    run = await _find_run(ctx, name, run_id)
    status = await run.get_status()
    if not status.is_active:
        msg = f"run {run_id!r} is {status.state}; it no longer accepts responses"
        raise ConflictError(msg)
    pending = {r.request_id: r for r in status.pending_requests}
    waiting = pending.get(body.request_id)
    if waiting is None:
        if await _was_requested(run, body.request_id):
            msg = f"request {body.request_id!r} of run {run_id!r} was already answered"
            raise ConflictError(msg)
        known = ", ".join(sorted(pending)) or "none"
        msg = f"run {run_id!r} has no request {body.request_id!r} (waiting: {known})"
        raise NotFoundError(msg)
    Engine(run.workflow).coerce_response(waiting.port_id, body.response)
    await run.send_response(body.request_id, body.response)
    base = ctx.base(request)
    if wait > 0:
        status = await run.wait_until_settled(wait, answered=body.request_id)
        body_ = await _status_body(run, status, base)
        return JSONResponse(body_.model_dump(mode="json", by_alias=True))
    accepted = RespondAccepted(
        run_id=run_id,
        request_id=body.request_id,
        status_url=run_urls(base, name, run_id)["status_url"],
    )
    return JSONResponse(accepted.model_dump(by_alias=True), status_code=202)


@router.get(
    "/{name}/events/{run_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}}},
    summary="The run's events as Server-Sent Events",
)
async def run_events_route(
    name: str,
    run_id: str,
    request: Request,
    from_: Annotated[
        int | None, Query(alias="from", ge=0, description="Resume after this sequence.")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="last-event-id")] = None,
) -> StreamingResponse:
    ctx = api_context(request)
    run = await _find_run(ctx, name, run_id)
    status = await run.get_status()
    if not status.streamed:
        msg = f"run {run_id!r} was started without streaming, so it recorded no events"
        raise ConflictError(msg)
    start = from_ if from_ is not None else _sequence(last_event_id)
    return StreamingResponse(run_events(run, start), media_type=MEDIA_TYPE, headers=HEADERS)


@router.post(
    "/{name}/cancel/{run_id}",
    status_code=202,
    response_model=RunAccepted,
    summary="Cancel (terminate) a run",
)
async def cancel(
    name: str, run_id: str, request: Request, body: CancelBody | None = None
) -> RunAccepted:
    ctx = api_context(request)
    run = await _find_run(ctx, name, run_id)
    status = await run.get_status()
    if not status.is_active:
        raise ConflictError(f"run {run_id!r} is already {status.state}")
    await run.cancel((body or CancelBody()).reason)
    urls = run_urls(ctx.base(request), name, run_id)
    return RunAccepted(run_id=run_id, status=status.state, **urls)


@router.get("/{name}/runs", response_model=RunList, summary="Recent runs, newest first")
async def list_runs(
    name: str,
    request: Request,
    status: RunState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    created_after: Annotated[datetime | None, Query(alias="createdAfter")] = None,
) -> RunList:
    ctx = api_context(request)
    workflow = ctx.workflow(name)
    runs = await ctx.client.list_runs(workflow, status, created_after, limit)
    return RunList(runs=[summary_body(r, ctx.base(request)) for r in runs])


# -- helpers ----------------------------------------------------------------------------------


async def _find_run(ctx: ApiContext, name: str, run_id: str) -> StreamingWorkflowRun:
    """The run `run_id` of workflow `name`; 404 for an unknown run or another workflow's."""
    workflow = ctx.workflow(name)
    client: WorkflowClient = ctx.client
    state = await client.durable_client.get_orchestration_state(run_id, fetch_payloads=False)
    if state is None or state.name != orchestrator_name(workflow.name):
        raise WorkflowNotFoundError(f"workflow {name!r} has no run {run_id!r}")
    return StreamingWorkflowRun(client, workflow, run_id)


async def _status_body(run: StreamingWorkflowRun, status: RunStatus, base: str) -> RunStatusBody:
    workflow: Workflow = run.workflow
    result: Any = None
    outputs: list[Any] = []
    if status.status == "COMPLETED":
        result = to_json(await run.wait_for_completion(timeout=30))
        outputs = [to_json(v) for v in run.outputs]
    error = None
    if status.status == "FAILED":
        error = run_error(status.error or "the run failed")
    elif status.status == "TERMINATED":
        error = RunError(type="RunCancelled", message="the run was cancelled")
    return RunStatusBody(
        run_id=run.run_id,
        workflow=workflow.name,
        version=status.version,
        status=status.state,
        superstep=status.superstep,
        last_sequence=status.last_sequence,
        created_at=status.created_at,
        updated_at=status.updated_at,
        pending_requests=[pending_request(workflow, r) for r in status.pending_requests],
        result=result,
        outputs=outputs,
        error=error,
        **run_urls(base, workflow.name, run.run_id),
    )


async def _was_requested(run: StreamingWorkflowRun, request_id: str) -> bool:
    """Whether the run ever asked `request_id` (so it was answered, or timed out)."""
    events = await run.recorded_events()
    return any(isinstance(e, WaitingForInputEvent) and e.request_id == request_id for e in events)


def _json_body(raw: bytes, what: str) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"{what} is not valid JSON: {exc}") from exc


def _sequence(last_event_id: str | None) -> int:
    if last_event_id is None or not last_event_id.strip():
        return 0
    if not last_event_id.strip().isdigit():
        raise BadRequestError(
            f"Last-Event-ID must be an event sequence number, not {last_event_id!r}"
        )
    return int(last_event_id)
