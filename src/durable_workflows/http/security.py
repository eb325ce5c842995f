"""ASGI middleware guarding every request: the API key, the body size limit, and a last-resort
handler that answers unexpected errors with a generic JSON 500 (no traceback leaves the server).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import (
    AuthenticationError,
    HttpApiError,
    PayloadTooLargeError,
    error_response,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/health", "/"})
"""Paths served without the API key (``/`` is the dashboard page, which holds no data)."""
PUBLIC_PREFIXES = ("/dashboard/",)
"""The dashboard's files (HTML, CSS, JavaScript: no data), also served without the key."""


class GuardMiddleware:
    """Checks the API key (``x-api-key`` or ``Authorization: Bearer``) in constant time on every
    path but `PUBLIC_PATHS`, refuses bodies over `max_body_bytes` with 413, and turns any error
    escaping the app into a JSON 500."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.api_key = api_key.encode("utf-8") if api_key else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        try:
            self._authenticate(scope, headers)
            receive = await self._limited_body(headers, receive)
        except HttpApiError as exc:
            extra = {"www-authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else {}
            await error_response(exc, headers=extra)(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for an error response; the server closes the connection
                raise
            await error_response(exc)(scope, receive, send)

    def _authenticate(self, scope: Scope, headers: dict[str, bytes]) -> None:
        path = scope.get("path", "")
        if self.api_key is None or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return
        given = headers.get("x-api-key")
        if given is None:
            authorization = headers.get("authorization", b"")
            scheme, _, token = authorization.partition(b" ")
            given = token.strip() if scheme.lower() == b"bearer" else None
        if given is None or not hmac.compare_digest(given, self.api_key):
            msg = "a valid API key is required: send it as `x-api-key: KEY` or `Authorization: Bearer KEY`"
            raise AuthenticationError(msg)

    async def _limited_body(self, headers: dict[str, bytes], receive: Receive) -> Receive:
        """A `receive` replaying the body, read whole here so its size can be checked."""
        limit = self.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLargeError(_too_large(limit))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(_too_large(limit))
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _too_large(limit: int) -> str:
    return f"the request body is larger than the server's limit of {limit} bytes"


def _replay(messages: list[Message], then: Receive) -> Receive:
    """A `receive` that returns `messages`, then defers to `then` (disconnects, for streams)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive
