"""The embedded backend: durabletask's in-memory gRPC backend, in-process, with its defects fixed.

It persists nothing: every run is lost when the process exits. Fixed here:

* the gRPC server gets a large thread pool (durabletask hard-codes 10 threads, so nine blocking
  ``wait_for_orchestration_*`` calls starved every other RPC);
* every enqueue wakes the dispatcher (durabletask skipped the wake-up when the instance was
  already queued, so results arriving during an orchestration episode stalled ~100 ms);
* ``port=0`` binds a free port and `address` reports it (durabletask reported ``:0``);
* it listens on the loopback interface only, because it has no authentication;
* it caps no message size (durabletask's server keeps gRPC's 4 MB receive cap).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import cast

import grpc
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.testing import InMemoryOrchestrationBackend

from ..errors import DurableWorkflowsError
from .factories import UNLIMITED_MESSAGES

DEFAULT_SERVER_THREADS = 128
"""gRPC server threads: each worker stream and each blocking wait holds one while it lasts."""


class _InMemoryServicer(InMemoryOrchestrationBackend):
    """durabletask's in-memory servicer with a sized thread pool and no lost wake-ups."""

    def __init__(self, *, host: str, port: int, max_history_size: int, server_threads: int):
        super().__init__(max_history_size=max_history_size, port=port)
        self._host = host
        self._server_threads = server_threads

    def start(self) -> str:
        self._shutdown_event.clear()
        server = grpc.server(
            ThreadPoolExecutor(self._server_threads, thread_name_prefix="dw-embedded-grpc"),
            options=UNLIMITED_MESSAGES,
        )
        add_servicer = cast(
            Callable[[InMemoryOrchestrationBackend, grpc.Server], None],
            stubs.add_TaskHubSidecarServiceServicer_to_server,
        )
        add_servicer(self, server)
        try:
            self._port = server.add_insecure_port(f"{self._host}:{self._port}")
        except RuntimeError as error:
            msg = f"The embedded backend cannot listen on {self._host}:{self._port}: {error}"
            raise DurableWorkflowsError(msg) from error
        server.start()
        self._server = server
        return f"{self._host}:{self._port}"

    def _enqueue_orchestration(self, instance_id: str) -> None:
        super()._enqueue_orchestration(instance_id)
        self._work_available.set()

    def _enqueue_entity(self, entity_id: str) -> None:
        super()._enqueue_entity(entity_id)
        self._work_available.set()


class EmbeddedBackend:
    """An in-process Durable Task backend for workers and clients on this machine.

    Use it as a context manager, or call `start` and `stop`. Workers and clients connect to
    `address` like to any sidecar.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_history_size: int = 10_000,
        server_threads: int = DEFAULT_SERVER_THREADS,
    ) -> None:
        """Configure, without starting; `port` 0 picks a free port when started."""
        self._servicer = _InMemoryServicer(
            host=host, port=port, max_history_size=max_history_size, server_threads=server_threads
        )
        self._address: str | None = None

    @property
    def address(self) -> str:
        """``host:port`` to give workers and clients; only while running."""
        if self._address is None:
            msg = "The embedded backend is not running; call start() first."
            raise DurableWorkflowsError(msg)
        return self._address

    @property
    def is_running(self) -> bool:
        """True between `start` and `stop`."""
        return self._address is not None

    def start(self) -> str:
        """Start serving and return `address`."""
        if self._address is None:
            self._address = self._servicer.start()
        return self._address

    def stop(self, grace: float | None = None) -> None:
        """Stop serving; open calls are cancelled after `grace` seconds. Idempotent."""
        if self._address is not None:
            self._servicer.stop(grace)
            self._address = None

    def __enter__(self) -> EmbeddedBackend:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
