"""`SqliteSidecar`: the gRPC server around the engine, startable in-process."""

from __future__ import annotations

import logging
import time
from concurrent import futures
from types import TracebackType
from typing import Any

import grpc
from durabletask.internal import orchestrator_service_pb2_grpc as stubs

from durable_workflows.sidecar.auth import TokenInterceptor, check_exposure, tls_credentials
from durable_workflows.sidecar.clock import Clock, SystemClock
from durable_workflows.sidecar.dispatch import MAX_DELIVERIES, MAX_WORK_ITEM_BYTES, Dispatcher
from durable_workflows.sidecar.errors import SidecarError
from durable_workflows.sidecar.servicer import Servicer
from durable_workflows.sidecar.store import Store

log = logging.getLogger("durable_workflows.sidecar")


class SqliteSidecar:
    """A Durable Task sidecar (``TaskHubSidecarService``) whose state lives in SQLite.

    ``db`` is a file path or ``":memory:"``. ``port=0`` picks a free port; `address` tells
    which. Use as a context manager, or call `start` and `stop`. A `host` other than loopback
    needs a `token` (every RPC must carry ``authorization: Bearer <token>``) or
    ``insecure=True``; `tls_cert` and `tls_key` (PEM files) turn on TLS.
    ``clock`` (tests: a `VirtualClock`) times timers and orchestrations; the system clock by
    default.
    """

    def __init__(
        self,
        db: str = ":memory:",
        *,
        port: int = 0,
        host: str = "localhost",
        max_history: int = 10_000,
        lease_seconds: float = 600.0,
        ping_interval: float = 30.0,
        max_threads: int = 128,
        synchronous: str = "NORMAL",
        max_work_item_bytes: int = MAX_WORK_ITEM_BYTES,
        max_deliveries: int = MAX_DELIVERIES,
        token: str | None = None,
        insecure: bool = False,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.host = host
        self.max_history = max_history
        self.lease_seconds = lease_seconds
        self.ping_interval = ping_interval
        self.max_threads = max_threads
        self.synchronous = synchronous
        self.max_work_item_bytes = max_work_item_bytes
        self.max_deliveries = max_deliveries
        self.insecure = insecure
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self._token = token
        self._requested_port = port
        self._port: int | None = None
        self._server: Any = None
        self._engine: Dispatcher | None = None
        self._servicer: Servicer | None = None
        self._store: Store | None = None

    @property
    def port(self) -> int:
        """The bound port (only once started)."""
        if self._port is None:
            raise SidecarError("the sidecar is not running")
        return self._port

    @property
    def servicer(self) -> Servicer:
        """The running sidecar's servicer, for in-process callers (`sidecar.inproc`)."""
        if self._servicer is None:
            raise SidecarError("the sidecar is not running")
        return self._servicer

    @property
    def address(self) -> str:
        """``"localhost:PORT"`` (``"grpcs://localhost:PORT"`` with TLS), for ``host_address=``."""
        scheme = "grpcs://" if self.tls_cert is not None else ""
        return f"{scheme}localhost:{self.port}"

    def start(self) -> SqliteSidecar:
        """Open the database, recover its state, and start serving."""
        if self._server is not None:
            raise SidecarError("the sidecar is already running")
        credentials = tls_credentials(self.tls_cert, self.tls_key)
        check_exposure(self.host, self._token, insecure=self.insecure,
                       tls=credentials is not None)
        store = Store(self.db, synchronous=self.synchronous)
        engine: Dispatcher | None = None
        try:
            engine = Dispatcher(store, max_history=self.max_history,
                                lease_seconds=self.lease_seconds,
                                ping_interval=self.ping_interval, clock=self.clock,
                                max_work_item_bytes=self.max_work_item_bytes,
                                max_deliveries=self.max_deliveries)
            server = grpc.server(
                futures.ThreadPoolExecutor(max_workers=self.max_threads,
                                           thread_name_prefix="sidecar-rpc"),
                options=[("grpc.so_reuseport", 0), ("grpc.max_send_message_length", -1),
                         ("grpc.max_receive_message_length", -1)],
                interceptors=[TokenInterceptor(self._token)] if self._token is not None else [],
            )
            servicer = Servicer(engine)
            add_servicer: Any = stubs.add_TaskHubSidecarServiceServicer_to_server
            add_servicer(servicer, server)
            port = self._bind(server, credentials)
        except BaseException:
            if engine is not None:
                engine.close()
            store.close()
            raise
        server.start()
        self._server, self._engine, self._store, self._port = server, engine, store, port
        self._servicer = servicer
        log.info("sidecar serving %s on %s", self.db, self.address)
        return self

    def is_idle(self) -> bool:
        """Whether no work is ready, running or due (every run waits for an event or timer)."""
        if self._engine is None:
            raise SidecarError("the sidecar is not running")
        return self._engine.is_idle()

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until `is_idle`; True if it became so.

        A host calls it before stopping its worker, so ready and running work (such as a
        finished run's last event-log write) is done rather than redelivered at the next start.
        """
        deadline = time.monotonic() + timeout
        while self._engine is not None and not self._engine.is_idle():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _bind(self, server: Any, credentials: grpc.ServerCredentials | None) -> int:
        where = f"{self.host}:{self._requested_port}"
        try:
            if credentials is None:
                port = int(server.add_insecure_port(where))
            else:
                port = int(server.add_secure_port(where, credentials))
        except RuntimeError:
            port = 0
        if port == 0:
            tls = " with this TLS certificate and key" if credentials is not None else ""
            raise SidecarError(f"could not bind {where}{tls}")
        return port

    def stop(self, grace: float | None = 1.0) -> None:
        """Stop serving and close the database (idempotent)."""
        server, engine, store = self._server, self._engine, self._store
        self._server = self._engine = self._store = None
        self._servicer = None
        self._port = None
        if engine is not None:
            engine.close()
        if server is not None:
            server.stop(grace).wait()
        if store is not None:
            store.close()

    def __enter__(self) -> SqliteSidecar:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
