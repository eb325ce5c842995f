"""Sidecar tokens on the client side: what every channel sends, and what a refusal becomes.

The token comes from the connection settings (``grpc://TOKEN@host:port``, or ``token=`` of the
host), else from ``$DURABLE_WORKFLOWS_SIDECAR_TOKEN``. It travels as the gRPC metadata
``authorization: Bearer TOKEN``, the way the Durable Task Scheduler takes its tokens.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from typing import Any, overload

import grpc
import grpc.aio
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from google.protobuf import empty_pb2

from ..errors import DurableWorkflowsError
from ..sidecar.auth import TOKEN_ENV_VAR, token_problem
from .connection import ConnectionSettings, ConnectionStringError

PROBE_TIMEOUT = 3.0
"""Seconds `check_token` waits for the sidecar's answer before leaving it to the worker."""


class SidecarAuthenticationError(DurableWorkflowsError):
    """A sidecar refused a call because its token was missing or wrong (UNAUTHENTICATED)."""

    def __init__(self, address: str, *, sent_token: bool) -> None:
        self.address = address
        self.sent_token = sent_token
        problem = "the token sent is wrong" if sent_token else "it requires a token and none was sent"
        super().__init__(
            f"The sidecar at {address} refused the call: {problem}. Pass the token the sidecar "
            f"was started with: --token, the {TOKEN_ENV_VAR} environment variable, token= of "
            f"DurableWorkflowHost, or in the address as grpc://TOKEN@{address}."
        )


def sidecar_token(settings: ConnectionSettings) -> str | None:
    """The token to send to a plain sidecar: the settings' own, else the environment's."""
    token = settings.token or os.environ.get(TOKEN_ENV_VAR, "").strip() or None
    problem = None if token is None else token_problem(token)
    if problem is not None:
        msg = f"The sidecar token for {settings.host_address} is unusable: {problem}."
        raise ConnectionStringError(msg)
    return token


@overload
def with_token(settings: ConnectionSettings, token: str | None) -> ConnectionSettings: ...
@overload
def with_token(
    settings: ConnectionSettings | None, token: str | None
) -> ConnectionSettings | None: ...
def with_token(
    settings: ConnectionSettings | None, token: str | None
) -> ConnectionSettings | None:
    """`settings` with an explicit `token` (None: unchanged); only plain sidecars take one."""
    if token is None:
        return settings
    if settings is None or settings.is_scheduler:
        msg = (
            "A token is for a sidecar address (host:port, with a sidecar started with --token); "
            "the embedded backend needs none and the Durable Task Scheduler uses Authentication=."
        )
        raise DurableWorkflowsError(msg)
    return dataclasses.replace(settings, token=token)


def channel_arguments(settings: ConnectionSettings, *, asynchronous: bool) -> dict[str, Any]:
    """Keyword arguments for a durabletask client or worker on a plain sidecar.

    The address and TLS flag, the token as metadata, and an interceptor that turns an
    UNAUTHENTICATED answer into `SidecarAuthenticationError`.
    """
    token = sidecar_token(settings)
    refusal = _AsyncRefusal if asynchronous else _Refusal
    return {
        "host_address": settings.host_address,
        "secure_channel": settings.secure,
        "metadata": [("authorization", f"Bearer {token}")] if token else None,
        "interceptors": [refusal(settings.host_address, sent_token=token is not None)],
    }


def check_token(settings: ConnectionSettings, timeout: float = PROBE_TIMEOUT) -> None:
    """Raise `SidecarAuthenticationError` now if the sidecar refuses our token.

    A worker would only log the refusal and retry forever. Any other failure (the sidecar is
    not up yet, say) is left to the worker's reconnect loop.
    """
    token = sidecar_token(settings)
    target = settings.host_address
    base = (grpc.secure_channel(target, grpc.ssl_channel_credentials()) if settings.secure
            else grpc.insecure_channel(target))
    metadata = [("authorization", f"Bearer {token}")] if token else None
    with base:
        channel = grpc.intercept_channel(base, _Refusal(target, sent_token=token is not None))
        stub: Any = stubs.TaskHubSidecarServiceStub
        with contextlib.suppress(grpc.RpcError):
            stub(channel).Hello(empty_pb2.Empty(), metadata=metadata, timeout=timeout)


def _refused(outcome: Any) -> bool:
    return isinstance(outcome, grpc.RpcError) and outcome.code() == grpc.StatusCode.UNAUTHENTICATED


class _Refusal(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Raises `SidecarAuthenticationError` for an UNAUTHENTICATED unary call."""

    def __init__(self, address: str, *, sent_token: bool) -> None:
        self._address = address
        self._sent_token = sent_token

    def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], details: Any, request: Any
    ) -> Any:
        outcome = continuation(details, request)
        if _refused(outcome):
            raise SidecarAuthenticationError(self._address, sent_token=self._sent_token)
        return outcome


class _AsyncRefusal(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """The grpc.aio flavour of `_Refusal`."""

    def __init__(self, address: str, *, sent_token: bool) -> None:
        self._address = address
        self._sent_token = sent_token

    async def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], details: Any, request: Any
    ) -> Any:
        call = await continuation(details, request)
        try:
            await call
        except grpc.aio.AioRpcError as error:
            if _refused(error):
                raise SidecarAuthenticationError(
                    self._address, sent_token=self._sent_token) from None
            raise
        return call
