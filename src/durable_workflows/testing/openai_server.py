"""A local OpenAI-compatible chat completions server for tests (standard library only).

Point the real `openai` client at it (``base_url=server.base_url``, or ``azure_endpoint=
server.url`` for Azure clients); script its answers with a responder and its failures with
`fail_next` and `reply_invalid_json_next`, tool calls with ``ServerReply(tool_calls=...)``;
streamed requests (``stream=True``) are answered with server-sent chunks::

    with LocalOpenAIServer() as server:
        server.fail_next(1, status=429)
        client = openai.OpenAI(api_key="test", base_url=server.base_url)
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

from ..agents._schema import example_from_schema

_ROUTE = re.compile(r"^(?:/v1|/openai/deployments/(?P<deployment>[^/]+))?/chat/completions$")


@dataclass(frozen=True)
class ServerReply:
    """One scripted answer: assistant `content`, or an HTTP error when `status` is not 200."""

    content: str = ""
    status: int = 200
    error: str = "scripted failure"
    finish_reason: str = "stop"
    refusal: str | None = None
    retry_after: float | None = None
    """Seconds the client should wait before retrying (sent as ``retry-after-ms``)."""
    tool_calls: tuple[tuple[str, Mapping[str, Any] | str], ...] = ()
    """Tool calls to ask for, as ``(tool name, arguments)``; ids are ``call_<request>_<i>``."""
    chunks: tuple[str, ...] = ()
    """For a streamed request (``stream=True``): the content deltas (default: word by word)."""
    hold_after: int | None = None
    """For a streamed request: after this many deltas, wait until `release` is set."""
    release: threading.Event | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received."""

    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent."""
        return list(self.body.get("messages", []))

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools offered to the model."""
        return [t["function"]["name"] for t in self.body.get("tools", [])]

    @property
    def json_schema(self) -> dict[str, Any] | None:
        """The structured-output schema requested, if any."""
        response_format = self.body.get("response_format") or {}
        if response_format.get("type") != "json_schema":
            return None
        return cast(dict[str, Any], response_format["json_schema"]["schema"])


Responder = Callable[[dict[str, Any]], "str | Mapping[str, Any] | ServerReply"]
"""Answers a request body: text, a mapping sent as JSON content, or a full `ServerReply`."""


def default_responder(request: dict[str, Any]) -> str | Mapping[str, Any]:
    """An example value of the requested JSON schema, else an echo of the last user message."""
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        value: Mapping[str, Any] = example_from_schema(response_format["json_schema"]["schema"])
        return value
    users = [m for m in request.get("messages", []) if m.get("role") == "user"]
    return f"echo: {users[-1].get('content', '') if users else ''}"


def _include_usage(body: dict[str, Any]) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


def _words(value: Any) -> int:
    return len(value.split()) if isinstance(value, str) else 0


class LocalOpenAIServer:
    """Serves ``POST /v1/chat/completions``, ``/chat/completions`` and
    ``/openai/deployments/{deployment}/chat/completions`` on 127.0.0.1 (a free port).

    Scripted replies queued by `fail_next`, `reply_invalid_json_next` and `enqueue` are used
    first, then `responder`. With `api_key` set, requests must carry it (``Authorization:
    Bearer`` or ``api-key``) or get HTTP 401. Received requests are kept in `requests`.
    """

    def __init__(
        self,
        responder: Responder = default_responder,
        *,
        api_key: str | None = None,
        model: str = "local-model",
    ) -> None:
        self.responder = responder
        self.api_key = api_key
        self.model = model
        self._lock = threading.Lock()
        self._scripted: deque[ServerReply] = deque()
        self._requests: list[RecordedRequest] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on (after `start`)."""
        if self._httpd is None:
            msg = "LocalOpenAIServer is not started: call start() or use it in a `with` block"
            raise RuntimeError(msg)
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the `azure_endpoint` for Azure clients."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``: the `base_url` for OpenAI clients."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """The chat completion requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def start(self) -> LocalOpenAIServer:
        """Start serving in a background thread; returns the server."""
        if self._httpd is None:
            self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler, self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="local-openai-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (safe to call twice)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            if self._thread is not None:
                self._thread.join()
            self._httpd = self._thread = None

    def __enter__(self) -> LocalOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def enqueue(self, *replies: ServerReply) -> None:
        """Answer the next requests with `replies`, in order, before using the responder."""
        with self._lock:
            self._scripted.extend(replies)

    def fail_next(
        self, count: int = 1, *, status: int = 429, retry_after: float | None = 0.001
    ) -> None:
        """Answer the next `count` requests with HTTP `status` (e.g. 429 or 500)."""
        error = "Rate limit reached (scripted)" if status == 429 else "Server error (scripted)"
        self.enqueue(*[ServerReply(status=status, error=error, retry_after=retry_after)] * count)

    def reply_invalid_json_next(self, count: int = 1, *, content: str = '{"answer": ') -> None:
        """Answer the next `count` requests with `content`, which is not valid JSON."""
        self.enqueue(*[ServerReply(content=content)] * count)

    def _answer(
        self, path: str, query: str, headers: dict[str, str], body: dict[str, Any]
    ) -> ServerReply:
        """Record the request and choose the reply (called by the handler threads)."""
        with self._lock:
            self._requests.append(RecordedRequest(path, query, headers, body))
            scripted = self._scripted.popleft() if self._scripted else None
        reply = scripted if scripted is not None else self.responder(body)
        if isinstance(reply, ServerReply):
            return reply
        if isinstance(reply, str):
            return ServerReply(content=reply)
        return ServerReply(content=json.dumps(dict(reply)))

    def _authorized(self, headers: dict[str, str]) -> bool:
        if self.api_key is None:
            return True
        bearer = headers.get("authorization", "")
        return self.api_key in (headers.get("api-key"), bearer.removeprefix("Bearer "))

    def _completion(
        self, body: dict[str, Any], deployment: str | None, reply: ServerReply
    ) -> dict[str, Any]:
        with self._lock:
            number = len(self._requests)
        prompt_tokens = sum(_words(m.get("content")) for m in body.get("messages", []))
        content = reply.content or "".join(reply.chunks)
        completion_tokens = _words(content)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if reply.refusal else content,
            "refusal": reply.refusal,
        }
        if reply.tool_calls:
            message["content"] = content or None
            message["tool_calls"] = [
                {
                    "id": f"call_{number}_{index}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": arguments
                        if isinstance(arguments, str)
                        else json.dumps(arguments),
                    },
                }
                for index, (name, arguments) in enumerate(reply.tool_calls)
            ]
        return {
            "id": f"chatcmpl-local-{number}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model") or deployment or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool_calls else reply.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], owner: LocalOpenAIServer
    ) -> None:
        self.owner = owner
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        owner = cast(_HTTPServer, self.server).owner
        url = urlsplit(self.path)
        route = _ROUTE.match(url.path)
        headers = {key.lower(): value for key, value in self.headers.items()}
        if route is None:
            self._error(404, f"No route {url.path}: POST /v1/chat/completions", "not_found")
            return
        if not owner._authorized(headers):
            self._error(401, "Incorrect API key provided", "invalid_api_key")
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        except ValueError:
            self._error(400, "The request body is not valid JSON", "invalid_request_error")
            return
        if not isinstance(body, dict):
            self._error(400, "Send a JSON object", "invalid_request")
            return
        reply = owner._answer(url.path, url.query, headers, body)
        if reply.status != 200:
            extra = {}
            if reply.retry_after is not None:
                extra["retry-after-ms"] = f"{reply.retry_after * 1000:g}"
            kind = "rate_limit_exceeded" if reply.status == 429 else "server_error"
            self._error(reply.status, reply.error, kind, extra)
            return
        completion = owner._completion(body, route.group("deployment"), reply)
        if body.get("stream"):
            self._stream(completion, reply, include_usage=_include_usage(body))
        else:
            self._send(200, completion)

    def _stream(
        self, completion: dict[str, Any], reply: ServerReply, *, include_usage: bool
    ) -> None:
        """Send `completion` as server-sent ``chat.completion.chunk`` events."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        choice = completion["choices"][0]
        message = choice["message"]
        base = {k: completion[k] for k in ("id", "created", "model")}

        def event(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {**base, "object": "chat.completion.chunk"}
            chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
            self._event(chunk)

        event({"role": "assistant", "content": ""})
        content = message.get("content") or ""
        pieces = reply.chunks or tuple(re.findall(r"\s*\S+\s*|\s+", content))
        for number, piece in enumerate(pieces, start=1):
            event({"content": piece})
            if number == reply.hold_after and reply.release is not None:
                reply.release.wait(30)
        if message.get("refusal"):
            event({"refusal": message["refusal"]})
        for index, call in enumerate(message.get("tool_calls") or ()):
            event({"tool_calls": [{"index": index, **call}]})
        event({}, choice["finish_reason"])
        if include_usage:
            self._event(
                {
                    **base,
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": completion["usage"],
                }
            )
        self.wfile.write(b"data: [DONE]\n\n")

    def _event(self, payload: dict[str, Any]) -> None:
        self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
        self.wfile.flush()

    def _error(
        self, status: int, message: str, code: str, headers: Mapping[str, str] | None = None
    ) -> None:
        error = {"message": message, "type": code, "param": None, "code": code}
        self._send(status, {"error": error}, headers)

    def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""
