"""`create_app`: the FastAPI app serving a `DurableWorkflowHost` over HTTP.

The app is made of routers (workflows, agents, health); more can be included on the returned
app (``app.include_router(...)``), and `ApiContext` (``app.state.api``) gives them the host.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import DurableWorkflowsError
from . import agent_stream, agents, workflows
from .context import ApiContext, api_context
from .dashboard import mount_dashboard
from .errors import BackendUnavailableError, error_body, error_response
from .models import ErrorBody, Health
from .openapi import build_openapi
from .security import GuardMiddleware

if TYPE_CHECKING:
    from ..hosting.host import DurableWorkflowHost

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Largest request body accepted (1 MiB); larger ones get 413."""

HEALTH_TIMEOUT = 5.0

health_router = APIRouter(tags=["health"])


@health_router.get("/health", response_model=Health, summary="Is the backend reachable?")
async def health(request: Request) -> Health:
    ctx = api_context(request)
    try:
        probe = ctx.client.durable_client.get_orchestration_state("dw-health-probe")
        await asyncio.wait_for(probe, HEALTH_TIMEOUT)
    except Exception as exc:
        raise BackendUnavailableError(f"the backend is not reachable: {exc}") from exc
    return Health(status="ok", workflows=len(ctx.workflows), agents=len(list(ctx.agents)))


def create_app(
    host: DurableWorkflowHost,
    *,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """An ASGI app serving `host`'s workflows and agents (the host is started separately).

    With `api_key`, every route but ``/health`` needs it (``x-api-key`` or
    ``Authorization: Bearer``). Bodies over `max_body_bytes` are refused with 413.
    """
    if max_body_bytes < 1:
        raise DurableWorkflowsError(f"max_body_bytes must be positive, not {max_body_bytes!r}")
    app = FastAPI(
        title="durable_workflows",
        version=__version__,
        description="Durable workflows and agents over HTTP: start runs, follow them, answer "
        "their requests, talk to agents.",
        responses={
            "4XX": {"model": ErrorBody, "description": "Refused: see error.type and message."},
            "5XX": {"model": ErrorBody, "description": "The server or its backend failed."},
        },
    )
    app.state.api = ApiContext(host=host, workflows={w.name: w for w in host.workflows})
    for router in (health_router, workflows.router, agents.router, agent_stream.router):
        app.include_router(router)
    mount_dashboard(app)
    app.add_exception_handler(DurableWorkflowsError, _library_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(GuardMiddleware, api_key=api_key, max_body_bytes=max_body_bytes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, host.workflows, secured=api_key is not None)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _library_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    body = error_body("RequestValidationError", f"the request is not valid: {where}", errors)
    return JSONResponse(body, status_code=400)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    names = {404: "NotFoundError", 405: "MethodNotAllowedError"}
    message = str(exc.detail)
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}"
    body = error_body(names.get(exc.status_code, "HTTPError"), message)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
