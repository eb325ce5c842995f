"""Errors of the HTTP API and how every error becomes a JSON error response.

The body is always ``{"error": {"type", "message"}}`` (plus ``details`` with pydantic's field
errors when a value did not validate); ``type`` is the error's class name. Tracebacks never
leave the server: an unexpected error is logged and answered with a generic 500.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ..agents._errors import AgentInputError, InvalidThreadIdError
from ..errors import (
    DurableWorkflowsError,
    InvalidResponseError,
    RequestAlreadyAnsweredError,
    RunAlreadyExistsError,
    SerializationError,
    WorkflowNotFoundError,
)
from ..rendering import RenderingError

LOG = logging.getLogger("durable_workflows.http")


class HttpApiError(DurableWorkflowsError):
    """An error the HTTP API answers with `status_code`."""

    status_code: ClassVar[int] = 400


class BadRequestError(HttpApiError):
    """The request is malformed: not JSON, a missing field, a bad parameter."""


class AuthenticationError(HttpApiError):
    """The API key is missing or wrong."""

    status_code = 401


class NotFoundError(HttpApiError, LookupError):
    """No such route, request or thread."""

    status_code = 404


class ConflictError(HttpApiError):
    """The request conflicts with the run's state (finished, or the request already answered)."""

    status_code = 409


class PayloadTooLargeError(HttpApiError):
    """The request body is larger than the server's limit."""

    status_code = 413


class AgentTurnFailedError(HttpApiError):
    """An agent's turn failed (the model call, or its reply); the thread is unchanged."""

    status_code = 502


class BackendUnavailableError(HttpApiError):
    """The Durable Task backend cannot be reached."""

    status_code = 503


def status_for(exc: BaseException) -> int:
    """The HTTP status an error is answered with."""
    if isinstance(exc, HttpApiError):
        return exc.status_code
    if isinstance(exc, WorkflowNotFoundError):
        return 404
    if isinstance(exc, (RunAlreadyExistsError, RequestAlreadyAnsweredError)):
        return 409
    if isinstance(
        exc, (SerializationError, InvalidResponseError, InvalidThreadIdError, AgentInputError)
    ):
        return 400
    if isinstance(exc, RenderingError):
        return 501
    return 504 if isinstance(exc, TimeoutError) else 500


def error_body(error_type: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON body of an error response."""
    error: dict[str, Any] = {"type": error_type, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(exc: BaseException, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON response for a library error (or a generic 500 for anything else)."""
    if isinstance(exc, TimeoutError) and not isinstance(exc, DurableWorkflowsError):
        body = error_body("TimeoutError", str(exc) or "the operation timed out")
        return JSONResponse(body, status_code=504, headers=headers)
    if not isinstance(exc, DurableWorkflowsError):
        LOG.error("unexpected error while serving a request", exc_info=exc)
        body = error_body("InternalServerError", "internal error; see the server's log")
        return JSONResponse(body, status_code=500, headers=headers)
    cause = _validation_cause(exc)
    details = None
    if cause is not None:
        details = jsonable_encoder(cause.errors(include_url=False, include_context=False))
    status = status_for(exc)
    if status >= 500:
        LOG.warning("request failed: %s: %s", type(exc).__name__, exc)
    body = error_body(type(exc).__name__, str(exc), details)
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_cause(exc: BaseException) -> ValidationError | None:
    """The pydantic error behind `exc` (following its causes), if there is one."""
    seen: set[int] = set()
    cause = exc.__cause__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ValidationError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__
    return None
