"""Fixtures of the HTTP tests: one host serving the test workflows and agents, and an app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from durable_workflows import DurableWorkflowHost
from durable_workflows.http import create_app

from .flows import AGENTS, WORKFLOWS

Body = Callable[[httpx.AsyncClient], Awaitable[Any]]
Api = Callable[..., Any]
"""``api(body)``: run `body(client)` against the shared app; returns what it returns."""


@pytest.fixture(scope="package")
def host() -> Iterator[DurableWorkflowHost]:
    running = DurableWorkflowHost(workflows=WORKFLOWS, agents=AGENTS)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def call(
    app: Any, body: Body, timeout: float = 60, *, headers: dict[str, str] | None = None
) -> Any:
    """Run `body(client)` with an httpx client talking to `app` in a fresh event loop."""

    async def main() -> Any:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as client:
            return await asyncio.wait_for(body(client), timeout)

    return asyncio.run(main())


@pytest.fixture(scope="package")
def app(host: DurableWorkflowHost) -> Any:
    return create_app(host)


@pytest.fixture
def api(app: Any) -> Api:
    """``api(body)`` runs `body(client)` against the shared app."""
    return lambda body, **kwargs: call(app, body, **kwargs)
