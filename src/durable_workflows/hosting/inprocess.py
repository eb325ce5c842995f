"""The in-process transport: a host's worker and clients call its embedded sidecar directly.

When `DurableWorkflowHost` runs the embedded backend, its worker is a `LocalWorker` (the
sidecar's work items go straight to durabletask's executors) and its clients talk through an
`AsyncInProcessChannel`; no loopback gRPC is involved. The sidecar still listens on
``host.address`` for other processes. ``transport="grpc"`` (or
``DURABLE_WORKFLOWS_TRANSPORT=grpc``) keeps the loopback gRPC path instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any, Literal, get_args

from durabletask.client import AsyncTaskHubGrpcClient, OrchestrationState, TaskHubGrpcClient
from durabletask.worker import ConcurrencyOptions, TaskHubGrpcWorker

from ..durable.event_data import EventDataConverter
from ..errors import DurableWorkflowsError
from ..sidecar import SqliteSidecar
from ..sidecar.core import Seen
from ..sidecar.inproc import AsyncInProcessChannel, InProcessChannel
from ..sidecar.local_worker import LocalWorker
from .factories import default_max_concurrency, durabletask_logger

Transport = Literal["auto", "inprocess", "grpc"]
"""How a host's own worker and clients reach its backend (see `resolve_transport`)."""

TRANSPORT_ENV_VAR = "DURABLE_WORKFLOWS_TRANSPORT"
"""Read when a host is given no ``transport=``: ``auto`` (the default), ``inprocess`` or ``grpc``."""


def resolve_transport(explicit: str | None, *, embedded: bool) -> Literal["inprocess", "grpc"]:
    """The transport a host uses: `explicit`, else `TRANSPORT_ENV_VAR`, else ``auto``.

    ``auto`` is in-process for the embedded backend and gRPC for any other. ``inprocess``
    needs the embedded backend when given explicitly; from the environment it means ``auto``.
    """
    source = "transport="
    value = explicit
    if value is None:
        source, value = f"${TRANSPORT_ENV_VAR}", os.environ.get(TRANSPORT_ENV_VAR, "").strip()
        value = value.lower() or "auto"
    if value not in get_args(Transport):
        msg = f"{source} must be one of {', '.join(get_args(Transport))}, not {value!r}"
        raise DurableWorkflowsError(msg)
    if value == "grpc":
        return "grpc"
    if value == "inprocess" and explicit is not None and not embedded:
        msg = (
            "transport='inprocess' needs the embedded backend (no connection string): a worker "
            "reaches a sidecar in another process, or the Durable Task Scheduler, only over gRPC"
        )
        raise DurableWorkflowsError(msg)
    return "inprocess" if embedded else "grpc"


class InProcessTransport:
    """Workers and clients for a `SqliteSidecar` running in this process."""

    def __init__(self, sidecar: SqliteSidecar) -> None:
        self._sidecar = sidecar
        self._channel = AsyncInProcessChannel(sidecar.servicer)

    def worker(
        self, *, max_concurrency: int | None = None, logger: logging.Logger | None = None
    ) -> LocalWorker:
        """A worker, not yet started, configured as `create_worker` configures one."""
        threads = default_max_concurrency() if max_concurrency is None else max_concurrency
        if threads < 1:
            msg = f"max_concurrency must be at least 1, got {threads}."
            raise DurableWorkflowsError(msg)
        worker = TaskHubGrpcWorker(
            channel=InProcessChannel(self._sidecar.servicer),
            concurrency_options=ConcurrencyOptions(maximum_thread_pool_workers=threads),
            data_converter=EventDataConverter(),
            logger=logger or durabletask_logger(),
        )
        return LocalWorker(self._sidecar, worker)

    def client(self, *, logger: logging.Logger | None = None) -> InProcessClient:
        """An asynchronous durabletask client; closing it leaves the shared channel open."""
        return InProcessClient(self._sidecar, self._channel, logger or durabletask_logger())

    def sync_client(self, *, logger: logging.Logger | None = None) -> TaskHubGrpcClient:
        """A synchronous durabletask client; it calls the servicer in the calling thread."""
        return TaskHubGrpcClient(
            channel=InProcessChannel(self._sidecar.servicer), logger=logger or durabletask_logger()
        )

    def close(self) -> None:
        """Release the clients' threads (calls in flight end on their own)."""
        self._channel.shutdown()


class InProcessClient(AsyncTaskHubGrpcClient):
    """An `AsyncTaskHubGrpcClient` on an `AsyncInProcessChannel` that can also wait for a
    state change without polling and without holding a thread (`state_change`)."""

    def __init__(
        self, sidecar: SqliteSidecar, channel: AsyncInProcessChannel, logger: logging.Logger
    ) -> None:
        super().__init__(channel=channel, logger=logger)
        self._engine = sidecar.servicer.engine

    async def state_change(self, state: OrchestrationState, timeout: float | None, *,
                           custom: bool = False) -> None:
        """Return once the instance's status (with `custom`, or its custom status) durably
        differs from those in `state`, or after `timeout` seconds."""
        instance_id = state.instance_id
        seen: Seen = (state.runtime_status.value,)
        if custom:
            seen = (state.runtime_status.value, state.serialized_custom_status)
        loop = asyncio.get_running_loop()
        changed: asyncio.Future[None] = loop.create_future()
        waker = _LoopWaker(loop, changed)
        if not self._engine.watch(instance_id, seen, waker):
            return
        try:
            await asyncio.wait({changed}, timeout=timeout)
        finally:
            if not changed.done():
                self._engine.unwatch(instance_id, waker)


class _LoopWaker:
    """Resolves a future of an event loop from the sidecar's committing thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
        self._loop = loop
        self._future = future

    def set(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if not self._future.done():
            self._future.set_result(None)
