"""Who may talk to the sidecar: the bind-address rule, the shared token, and TLS credentials."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from durable_workflows.sidecar.errors import SidecarError

log = logging.getLogger("durable_workflows.sidecar")

TOKEN_ENV_VAR = "DURABLE_WORKFLOWS_SIDECAR_TOKEN"
"""The environment variable holding the sidecar token, read by the CLI and by clients."""

MIN_TOKEN_LENGTH = 16
"""Shorter tokens are refused: they can be guessed."""

TOKEN_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
"""A command that prints a good token."""

DENIED = "missing or wrong sidecar token (send the metadata 'authorization: Bearer TOKEN')"
"""The UNAUTHENTICATED detail sent to a caller without the right token."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses; any other name or address is exposed."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def token_problem(token: str) -> str | None:
    """Why `token` cannot travel as gRPC metadata, or None."""
    if not token:
        return "the token is empty"
    if not all("!" <= ch <= "~" for ch in token):
        return "the token may hold only printable ASCII characters without spaces"
    return None


def check_exposure(host: str, token: str | None, *, insecure: bool, tls: bool) -> None:
    """Refuse to serve `host` without a token unless it is loopback or `insecure` is set."""
    if token is not None:
        problem = token_problem(token)
        if problem is None and len(token) < MIN_TOKEN_LENGTH:
            problem = f"the token is shorter than {MIN_TOKEN_LENGTH} characters"
        if problem is not None:
            msg = f"Bad sidecar token: {problem}. Generate one with {TOKEN_HINT}."
            raise SidecarError(msg)
        if not tls and not is_loopback(host):
            log.warning("listening on %s without TLS: the token and all data cross the network "
                        "unencrypted; use --tls-cert/--tls-key unless the network is private",
                        host)
        return
    if is_loopback(host):
        return
    if not insecure:
        msg = (
            f"Refusing to listen on {host!r} without a token: anyone who can reach the port could "
            "start, read, answer, terminate and purge every run. Give a shared token (--token or "
            f"${TOKEN_ENV_VAR}; token= in Python), which every worker and client then passes; "
            f"generate one with {TOKEN_HINT}. Or, on a network you trust completely, pass "
            "--insecure (insecure=True)."
        )
        raise SidecarError(msg)
    log.warning("listening on %s with no token (--insecure): anyone who can reach it has full "
                "access to every run", host)


def tls_credentials(cert: str | None, key: str | None) -> grpc.ServerCredentials | None:
    """Server credentials from PEM files, None without TLS; both files or neither."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise SidecarError("TLS needs both a certificate and its private key "
                           "(--tls-cert and --tls-key)")
    pair = (_pem(key, b"PRIVATE KEY-----"), _pem(cert, b"-----BEGIN CERTIFICATE-----"))
    return grpc.ssl_server_credentials([pair])


def _pem(path: str, marker: bytes) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SidecarError(f"cannot read the TLS file {path}: {exc.strerror}") from exc
    if marker not in data:
        raise SidecarError(f"the TLS file {path} has no PEM block ending in {marker.decode()!r}")
    return data


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class TokenInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Lets through only RPCs whose metadata holds ``authorization: Bearer <token>``.

    The comparison is between SHA-256 digests with `hmac.compare_digest`, so it takes the
    same time whatever the caller sent. Any other RPC ends with UNAUTHENTICATED.
    """

    def __init__(self, token: str) -> None:
        self._expected = _digest(token)

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None or self._allows(details.invocation_metadata or ()):
            return handler
        log.warning("refused %s: %s", details.method, DENIED)
        return _denying(handler)

    def _allows(self, metadata: Any) -> bool:
        values = [value for key, value in metadata if key == "authorization"]
        scheme, _, presented = (values[0] if len(values) == 1 else "").partition(" ")
        matches = hmac.compare_digest(_digest(presented.strip()), self._expected)
        return matches and scheme.lower() == "bearer"


def _deny(request: Any, context: grpc.ServicerContext) -> Any:
    context.abort(grpc.StatusCode.UNAUTHENTICATED, DENIED)


def _denying(handler: Any) -> Any:
    """A handler of the same kind as `handler` that aborts before reading the request."""
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(_deny)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(_deny)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(_deny)
    return grpc.stream_stream_rpc_method_handler(_deny)
