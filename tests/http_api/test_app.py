"""The app around the routes: API key, body limit, errors, health, OpenAPI, bind safety."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from durable_workflows import DurableWorkflowHost, DurableWorkflowsError
from durable_workflows.http import create_app
from durable_workflows.http.server import (
    InsecureBindError,
    _listen,
    check_bind,
    is_loopback,
    url_of,
)

from .conftest import call

pytestmark = pytest.mark.e2e
KEY = "s3cret-key"


@pytest.fixture(scope="module")
def locked(host: DurableWorkflowHost) -> Any:
    return create_app(host, api_key=KEY, max_body_bytes=1000)


def test_the_api_key_is_required_on_every_route_but_health(locked: Any) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await c.get("/api/workflows"),
            await c.get("/api/workflows", headers={"x-api-key": "wrong"}),
            await c.get("/api/workflows", headers={"authorization": "Bearer wrong"}),
            await c.get("/openapi.json"),
            await c.get("/docs"),
            await c.post("/api/agents/Joker/run", content="hi"),
            await c.get("/health"),
            await c.get("/api/workflows", headers={"x-api-key": KEY}),
            await c.get("/api/workflows", headers={"authorization": f"Bearer {KEY}"}),
        ]

    *refused, health, by_header, by_bearer = call(locked, body)
    for response in refused:
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "AuthenticationError"
        assert response.headers["www-authenticate"] == "Bearer"
    assert health.status_code == 200
    assert by_header.status_code == 200 and by_bearer.status_code == 200


def test_bodies_over_the_limit_get_413(locked: Any) -> None:
    big = "x" * 2000

    async def chunks() -> Any:
        for _ in range(4):
            yield b'"' + b"y" * 400 + b'"'

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        headers = {"x-api-key": KEY}
        return [
            await c.post("/api/workflows/Echo/run", json=big, headers=headers),
            await c.post("/api/workflows/Echo/run", content=chunks(), headers=headers),
            await c.post("/api/workflows/Echo/run?wait=20", json="small", headers=headers),
        ]

    declared, chunked, small = call(locked, body)
    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "PayloadTooLargeError"
        assert "1000 bytes" in response.json()["error"]["message"]
    assert small.status_code == 200


def test_unexpected_errors_are_a_json_500_without_traceback(host: DurableWorkflowHost) -> None:
    app = create_app(host)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail /etc/secret")

    response = call(app, lambda c: c.get("/boom"))
    assert response.status_code == 500
    assert response.json() == {
        "error": {"type": "InternalServerError", "message": "internal error; see the server's log"}
    }
    assert "secret" not in response.text and "Traceback" not in response.text


def test_unknown_routes_and_methods_are_json_errors(api: Any) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [await c.get("/nowhere"), await c.delete("/api/workflows")]

    missing, method = api(body)
    assert missing.status_code == 404
    assert missing.json()["error"] == {"type": "NotFoundError", "message": "no route GET /nowhere"}
    assert method.status_code == 405
    assert method.json()["error"]["type"] == "MethodNotAllowedError"


def test_health_reports_a_reachable_backend(api: Any) -> None:
    response = api(lambda c: c.get("/health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "workflows": 4, "agents": 4}


def test_health_is_503_when_the_backend_is_gone() -> None:
    from .flows import ECHO

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = DurableWorkflowHost(
        workflows=[ECHO], connection_string=f"localhost:{port}", mode="client"
    )
    with unreachable:
        response = call(create_app(unreachable), lambda c: c.get("/health"), timeout=30)
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "BackendUnavailableError"


def test_openapi_has_every_input_and_response_schema(api: Any) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [await c.get("/openapi.json"), await c.get("/docs")]

    spec, docs = api(body)
    document = spec.json()
    paths = document["paths"]
    echo = paths["/api/workflows/Echo/run"]["post"]
    assert echo["requestBody"]["content"]["application/json"]["schema"] == {"type": "string"}
    respond = paths["/api/workflows/Approval/respond/{run_id}"]["post"]
    schema = respond["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["response"] == {"$ref": "#/components/schemas/Approval.Decision"}
    assert "Approval.Decision" in document["components"]["schemas"]
    parallel = paths["/api/workflows/Parallel/respond/{run_id}"]["post"]
    variants = parallel["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [v["title"] for v in variants] == ["first response", "second response"]
    assert "/api/workflows/Echo/respond/{run_id}" not in paths  # Echo has no ports
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_a_secured_app_documents_its_key(locked: Any) -> None:
    spec = call(locked, lambda c: c.get("/openapi.json", headers={"x-api-key": KEY})).json()
    assert spec["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"
    assert spec["paths"]["/health"]["get"]["security"] == []


def test_create_app_refuses_a_nonsense_body_limit(host: DurableWorkflowHost) -> None:
    with pytest.raises(DurableWorkflowsError, match="max_body_bytes"):
        create_app(host, max_body_bytes=0)


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.10", False),
        ("example.org", False),
    ],
)
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_non_loopback_bind_needs_a_key_or_insecure() -> None:
    check_bind("127.0.0.1", None, False)
    check_bind("0.0.0.0", "key", False)
    check_bind("0.0.0.0", None, True)
    with pytest.raises(InsecureBindError, match="--api-key"):
        check_bind("0.0.0.0", None, False)
    assert url_of("::1", 80) == "http://[::1]:80"


def test_the_listening_socket_disables_nagle() -> None:
    """Accepted connections inherit TCP_NODELAY; without it every keep-alive request after the
    first waited ~40 ms for the client's delayed ACK (see bench/http_api.py)."""
    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()
