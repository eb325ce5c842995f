"""The dashboard's routes: the page at ``/``, its files under ``/dashboard/``, and two reads the
HTTP API lacks (the graph with SVG ids, runs of every workflow paged) under ``/api/dashboard``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from ...hosting.run_info import RunState
from ..context import api_context
from ..views import summary_body
from .graph import dashboard_graph

STATIC = Path(__file__).parent / "static"
PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
"""The page loads nothing from elsewhere and runs no inline script."""

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"])


@router.get("/workflows/{name}/graph", summary="The graph as the dashboard draws it")
async def workflow_graph(name: str, request: Request) -> dict[str, Any]:
    ctx = api_context(request)
    workflow = ctx.workflow(name)
    cache: dict[str, dict[str, Any]] = request.app.state.dashboard_graphs
    graph = cache.get(name)
    if graph is None:
        graph = await asyncio.to_thread(dashboard_graph, workflow)
        if graph["svg"] is not None:
            cache[name] = graph
    return graph


@router.get("/runs", summary="Recent runs of the served workflows, newest first, paged")
async def runs(
    request: Request,
    workflow: str | None = None,
    status: RunState | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> dict[str, Any]:
    """Runs `offset` to `offset + limit` of the newest-first list. Runs of workflows this app
    does not serve (sharing its backend) are left out, so such a page may hold fewer."""
    ctx = api_context(request)
    if workflow is not None:
        ctx.workflow(workflow)  # 404 for a workflow this app does not serve
    found = await ctx.client.list_runs(workflow, status, None, offset + limit + 1)
    page = [r for r in found[offset : offset + limit] if r.workflow in ctx.workflows]
    base = ctx.base(request)
    return {
        "runs": [summary_body(r, base).model_dump(mode="json", by_alias=True) for r in page],
        "offset": offset,
        "limit": limit,
        "more": len(found) > offset + limit,
    }


async def index() -> FileResponse:
    """The dashboard page (a single page; the part after ``#`` picks the view)."""
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=PAGE_HEADERS)


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard on `app`: the page at ``/``, its files at ``/dashboard/``."""
    app.state.dashboard_graphs = {}
    app.include_router(router)
    app.add_api_route("/", index, methods=["GET"], include_in_schema=False)
    app.mount("/dashboard", StaticFiles(directory=STATIC), name="dashboard")
