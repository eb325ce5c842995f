"""Backend call failures as `DurableWorkflowsError`s that name the run, the address and the fix.

`MappedClient` wraps a durabletask async client: a `grpc.RpcError` out of any of its calls is
raised as a `BackendError` (or `WorkflowNotFoundError`), never as a raw ``AioRpcError``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import grpc

from ..errors import (
    BackendError,
    BackendUnavailableError,
    DurableWorkflowsError,
    RunAlreadyExistsError,
    WorkflowNotFoundError,
)

_ACTIONS = {
    "schedule_new_orchestration": "start",
    "get_orchestration_state": "read the status of",
    "wait_for_orchestration_completion": "wait for",
    "raise_orchestration_event": "send a response to",
    "terminate_orchestration": "cancel",
    "get_entity": "read the events or state of",
    "signal_entity": "signal an entity of",
}

_HINTS = {
    "RESOURCE_EXHAUSTED": (
        "The backend refused a message over its size limit, or too many requests at once: keep "
        "payloads small (docs/hosting.md, Limits) or retry later."
    ),
    "DEADLINE_EXCEEDED": "The backend did not answer in time; retry, or check that it is not overloaded.",
    "UNAUTHENTICATED": (
        "Check Authentication= in the connection string and that the credential can get a token."
    ),
    "PERMISSION_DENIED": (
        "The identity has no access to this task hub; grant it the Durable Task data role."
    ),
    "FAILED_PRECONDITION": "The run is not in a state that allows this (finished or suspended?).",
    "INVALID_ARGUMENT": "The backend refused the request as invalid.",
    "UNIMPLEMENTED": "The backend does not implement this call; it may be an older sidecar.",
    "CANCELLED": "The call was cancelled: the client or host is shutting down.",
}


def backend_error(
    error: grpc.RpcError, *, address: str | None, run_id: str | None, method: str
) -> DurableWorkflowsError:
    """The `DurableWorkflowsError` for a failed backend call."""
    code_obj = error.code() if callable(getattr(error, "code", None)) else None
    code = code_obj.name if isinstance(code_obj, grpc.StatusCode) else "UNKNOWN"
    details = error.details() if callable(getattr(error, "details", None)) else str(error)
    where = f"the backend at {address}" if address else "the backend"
    run = f"run {run_id!r}" if run_id else "the run"
    action = _ACTIONS.get(method, f"call {method} for")
    if code == "UNAVAILABLE":
        msg = (
            f"Cannot reach {where} to {action} {run} ({details}). Check that it is running (an "
            "embedded backend lives as long as its DurableWorkflowHost; a sidecar is started "
            "with `durable-workflows sidecar`) and that the connection string points to it."
        )
        return BackendUnavailableError(msg, code=code, address=address, run_id=run_id)
    if code == "ALREADY_EXISTS":
        reason = (
            f"{where} refused to start another. Choose another run_id (or none, for a random "
            f"one), or follow the existing run with client.get_run({run_id!r})"
        )
        return RunAlreadyExistsError(run_id or "", reason)
    if code == "NOT_FOUND":
        return WorkflowNotFoundError(f"no run with id {run_id!r} on {where} ({details})")
    hint = _HINTS.get(code, "")
    msg = f"{where[0].upper()}{where[1:]} failed to {action} {run}: {code}: {details}. {hint}"
    return BackendError(msg.rstrip(), code=code, address=address, run_id=run_id)


class MappedClient:
    """A durabletask async client whose calls raise `DurableWorkflowsError`s, not gRPC errors."""

    def __init__(self, client: Any, address: str | None) -> None:
        self.client = client
        self.address = address

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        return self._mapped(name, attr)

    def _mapped(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(call)
        async def mapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return await call(*args, **kwargs)
            except grpc.RpcError as error:
                run_id = kwargs.get("instance_id", args[0] if args else None)
                raise backend_error(
                    error,
                    address=self.address,
                    run_id=run_id if isinstance(run_id, str) else None,
                    method=name,
                ) from error

        return mapped
