"""`serve`: run a host and its HTTP API in this process with uvicorn, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import uvicorn

from ..errors import DurableWorkflowsError
from .app import DEFAULT_MAX_BODY_BYTES, create_app

if TYPE_CHECKING:
    from ..hosting.host import DurableWorkflowHost

DEFAULT_BIND = "127.0.0.1"
DEFAULT_PORT = 7071


class InsecureBindError(DurableWorkflowsError):
    """Serving on a non-loopback address without an API key (and without ``insecure=True``)."""


class _Server(uvicorn.Server):
    """uvicorn's server, leaving signals to `_serve` (uvicorn would re-raise them after shutting
    down, ending the process before the host is stopped)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        self.should_exit = True


def is_loopback(address: str) -> bool:
    """Whether `address` (``localhost``, an IPv4 or IPv6 address) only reaches this machine."""
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(address: str, api_key: str | None, insecure: bool) -> None:
    """Refuse to serve other machines without an API key, unless `insecure` says so."""
    if is_loopback(address) or api_key or insecure:
        return
    msg = (
        f"refusing to serve on {address!r} without an API key: anyone who can reach it could "
        "start, answer and cancel runs. Give --api-key KEY (or DURABLE_WORKFLOWS_API_KEY), "
        "bind 127.0.0.1, or pass --insecure if the network is protected otherwise"
    )
    raise InsecureBindError(msg)


def url_of(address: str, port: int) -> str:
    """The base URL of a bound address."""
    shown = f"[{address}]" if ":" in address and not address.startswith("[") else address
    return f"http://{shown}:{port}"


def serve(
    host: DurableWorkflowHost,
    *,
    address: str = DEFAULT_BIND,
    port: int = DEFAULT_PORT,
    api_key: str | None = None,
    insecure: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Start `host`, serve its API on `address`:`port` (0 picks a free port) until SIGINT or
    SIGTERM, then stop it. `ready` is called with the base URL once requests are served."""
    check_bind(address, api_key, insecure)
    asyncio.run(_serve(host, address, port, api_key, max_body_bytes, ready))


async def _serve(
    host: DurableWorkflowHost,
    address: str,
    port: int,
    api_key: str | None,
    max_body_bytes: int,
    ready: Callable[[str], None] | None,
) -> None:
    app = create_app(host, api_key=api_key, max_body_bytes=max_body_bytes)
    sock = _listen(address.strip("[]"), port)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on this platform
            loop.add_signal_handler(sig, server.request_exit)
    async with host:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started and ready is not None:
            ready(url_of(address, sock.getsockname()[1]))
        await serving


def _listen(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, a keep-alive response waits ~40 ms for the
    # client's delayed ACK (Nagle), on every request after a connection's first.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((address, port))
    except OSError as exc:
        sock.close()
        raise DurableWorkflowsError(f"cannot listen on {address}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock
