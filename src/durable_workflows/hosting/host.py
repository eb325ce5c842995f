"""`DurableWorkflowHost`: starts a backend (when embedded) and a worker, and hands out a client."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal

from ..durable.agent_stream import StreamSignaller
from ..durable.payloads import default_max_payload_bytes
from ..durable.registration import register, work_item_filters
from ..durable.shared_state import SharedStateReader
from ..durable.versions import WorkflowVersions
from ..errors import DurableWorkflowsError
from ..graph.builder import WorkflowBuilder
from ..graph.workflow import Workflow
from ..model.agent_nodes import AgentNode
from ..model.agent_protocol import DEFAULT_SESSION_TTL, WorkflowAgent
from ..sidecar import SqliteSidecar
from ..sidecar.clock import VirtualClock
from ..values.typing_utils import a_type
from .agent_client import AgentClient
from .auth import check_token, with_token
from .client import WorkflowClient
from .connection import ConnectionSettings, resolve_connection
from .factories import create_client, create_worker, durabletask_logger
from .inprocess import InProcessTransport, Transport, resolve_transport
from .retention import RetentionLoop, check_retention
from .rpc_errors import MappedClient

HostMode = Literal["all", "worker", "client"]

DRAIN_SECONDS = 2.0
"""How long stopping an embedded host waits for work items already handed to its worker."""


class DurableWorkflowHost:
    """Hosts workflows and agents on a Durable Task backend.

    ```python
    async with DurableWorkflowHost(workflows=[workflow]) as host:
        run = await host.client.run(workflow, "order-42")
        print(await run.wait_for_completion())
    ```
    Without a connection string (and without ``DURABLE_TASK_SCHEDULER_CONNECTION_STRING``) an
    embedded backend (the SQLite sidecar) runs in this process: in memory by default, durable
    across crashes and restarts with ``database="runs.db"``. ``mode="worker"`` only serves a
    shared task hub (start many such processes to scale out); ``mode="client"`` only talks to
    one. A sidecar started with ``--token`` needs that token: ``token=``, in the address
    (``grpc://TOKEN@host:port``), or ``$DURABLE_WORKFLOWS_SIDECAR_TOKEN``.

    ``previous_versions`` are older definitions of the workflows (same name, another
    ``version=``) whose runs are still in flight: each run replays on the version it started
    with, new runs start on the one in `workflows`. ``version_filters`` makes the worker ask
    the backend only for runs of the versions it registers (a rolling deploy with several
    workers); by default on with the Durable Task Scheduler, off otherwise (docs/versioning.md).

    ``retention=timedelta(days=7)`` purges finished runs (and the event logs of streamed runs)
    once they ended longer ago than that, checking every tenth of it (1 s to 10 min).

    With the embedded backend the host's worker and clients call the sidecar in-process
    (``transport="auto"``, the default); ``transport="grpc"`` (or
    ``$DURABLE_WORKFLOWS_TRANSPORT=grpc``) sends them over loopback gRPC like other processes.
    ``clock="virtual"`` (embedded backend, for tests) stops time until `advance` moves it.
    Payloads over ``max_payload_bytes`` (default 16 MiB, 1 MiB on the Durable Task Scheduler)
    fail their run, or are refused, with an error naming them. A host that is not stopped is
    stopped when the interpreter exits.

    `orchestrations` and `activities` are hand-written durabletask functions registered by
    name; inside an orchestration, `durable_workflows.agents.get_agent(ctx, name)` calls the
    hosted agents. `default_session_ttl` is how long an idle agent thread lives when its agent
    does not set `session_ttl` (``None``: forever).
    """

    def __init__(
        self,
        workflows: Workflow | Iterable[Workflow] = (),
        agents: Iterable[WorkflowAgent] = (),
        connection_string: str | None = None,
        *,
        orchestrations: Iterable[Callable[..., Any]] = (),
        activities: Iterable[Callable[..., Any]] = (),
        default_session_ttl: timedelta | None = DEFAULT_SESSION_TTL,
        mode: HostMode = "all",
        database: str | os.PathLike[str] | None = None,
        max_concurrency: int | None = None,
        max_payload_bytes: int | None = None,
        logger: logging.Logger | None = None,
        token: str | None = None,
        previous_versions: Iterable[Workflow] = (),
        version_filters: bool | None = None,
        retention: timedelta | None = None,
        clock: Literal["system", "virtual"] | VirtualClock = "system",
        transport: Transport | None = None,
    ) -> None:
        if mode not in ("all", "worker", "client"):
            raise DurableWorkflowsError(f"mode must be 'all', 'worker' or 'client', not {mode!r}")
        self.workflows = _workflow_list(workflows)
        self.previous_versions = list(previous_versions)
        self._versions = WorkflowVersions(self.workflows, self.previous_versions)
        self._version_filters = version_filters
        self.retention = check_retention(retention)
        self._retention: RetentionLoop | None = None
        self.mode = mode
        self._settings = with_token(resolve_connection(connection_string), token)
        if self._settings is None and mode != "all":
            msg = f"mode={mode!r} needs a connection string: the embedded backend lives in one process"
            raise DurableWorkflowsError(msg)
        if database is not None and self._settings is not None:
            msg = "database= is for the embedded backend; it cannot be combined with a connection string"
            raise DurableWorkflowsError(msg)
        self._database = ":memory:" if database is None else os.fspath(database)
        self._clock = _virtual_clock(clock, embedded=self._settings is None)
        self._transport = resolve_transport(transport, embedded=self._settings is None)
        self._inprocess: InProcessTransport | None = None
        self._max_concurrency = max_concurrency
        scheduler = self._settings is not None and self._settings.is_scheduler
        self.max_payload_bytes = (
            default_max_payload_bytes(scheduler) if max_payload_bytes is None else max_payload_bytes
        )
        if self.max_payload_bytes < 1:
            raise DurableWorkflowsError(
                f"max_payload_bytes must be positive, not {max_payload_bytes}"
            )
        self._logger = logger or durabletask_logger()
        self._backend: SqliteSidecar | None = None
        self._worker: Any = None
        self._shared_state: SharedStateReader | None = None
        self._signaller: StreamSignaller | None = None
        self._target: ConnectionSettings | str | None = None
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WorkflowClient] = (
            weakref.WeakKeyDictionary()
        )
        self._agents = _all_agents(list(agents), list(self._versions))
        self.orchestrations = list(orchestrations)
        self.activities = list(activities)
        if default_session_ttl is not None and not (
            isinstance(default_session_ttl, timedelta) and default_session_ttl > timedelta(0)
        ):
            msg = f"default_session_ttl must be a positive timedelta or None, not {default_session_ttl!r}"
            raise DurableWorkflowsError(msg)
        self.default_session_ttl = default_session_ttl

    @property
    def address(self) -> str:
        """Where workers and clients connect (the embedded backend's ``host:port`` if embedded)."""
        if self._target is None:
            raise DurableWorkflowsError("the host is not started")
        return str(self._target)

    @property
    def transport(self) -> str:
        """How this host's worker and clients reach the backend: ``"inprocess"`` or ``"grpc"``."""
        return self._transport

    @property
    def client(self) -> WorkflowClient:
        """A `WorkflowClient` for the current event loop."""
        if self._target is None:
            raise DurableWorkflowsError(
                "the host is not started; use `async with DurableWorkflowHost(...)`"
            )
        if self.mode == "worker":
            raise DurableWorkflowsError("a host in mode='worker' has no client")
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            durable = (
                self._inprocess.client(logger=self._logger)
                if self._inprocess is not None
                else create_client(self._target, asynchronous=True, logger=self._logger)
            )
            client = self._clients[loop] = WorkflowClient(
                durable,
                self.workflows,
                previous_versions=self.previous_versions,
                served_only=True,
                max_payload_bytes=self.max_payload_bytes,
                address=self.address,
            )
        return client

    @property
    def agents(self) -> AgentClient:
        """The hosted agents for direct use: ``await host.agents.get("Joker").run("Hi")``."""
        return AgentClient(MappedClient(self.client.durable_client, self.address), self._agents)

    @property
    def clock(self) -> VirtualClock:
        """The virtual clock of a host created with ``clock="virtual"``."""
        if self._clock is None:
            raise DurableWorkflowsError('this host runs on real time; create it with clock="virtual"')
        return self._clock

    async def advance(self, delta: timedelta, *, settle_timeout: float = 30.0) -> None:
        """Skip time: let pending work finish, move the virtual clock by `delta`, and return
        once every timer that became due (port timeouts, retry backoff, delays) has fired and
        what it triggered has run. Waits at most `settle_timeout` real seconds each time.
        """
        clock = self.clock
        await self.settle(settle_timeout)
        await asyncio.to_thread(clock.advance, delta)
        await self.settle(settle_timeout)

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until the embedded backend is idle: nothing ready, running or due."""
        backend = self._backend
        if backend is None:
            raise DurableWorkflowsError("settle() needs a started host with the embedded backend")
        deadline = time.monotonic() + timeout
        while not backend.is_idle():
            if time.monotonic() > deadline:
                msg = f"the embedded backend was still busy after {timeout} s (a run that never waits?)"
                raise DurableWorkflowsError(msg)
            await asyncio.sleep(0.005)

    def start(self) -> None:
        """Start the embedded backend (if any) and the worker (unless mode='client')."""
        if self._target is not None:
            return
        if self._settings is None:
            self._backend = SqliteSidecar(self._database, clock=self._clock).start()
            self._target = self._backend.address
            if self._transport == "inprocess":
                self._inprocess = InProcessTransport(self._backend)
        else:
            self._target = self._settings
        _stop_at_exit(self)
        if self.mode != "client":
            if isinstance(self._target, ConnectionSettings) and not self._target.is_scheduler:
                check_token(self._target)
            target, inprocess = self._target, self._inprocess

            def sync_client() -> Any:
                if inprocess is not None:
                    return inprocess.sync_client(logger=self._logger)
                return create_client(target, logger=self._logger)

            self._signaller = StreamSignaller(sync_client)
            worker: Any = (
                inprocess.worker(max_concurrency=self._max_concurrency, logger=self._logger)
                if inprocess is not None
                else create_worker(
                    self._target, max_concurrency=self._max_concurrency, logger=self._logger
                )
            )
            self._shared_state = SharedStateReader(sync_client())
            try:
                register(
                    worker,
                    self._versions,
                    self._agents,
                    orchestrations=self.orchestrations,
                    activities=self.activities,
                    default_session_ttl=self.default_session_ttl,
                    stream_signaller=self._signaller,
                    max_payload_bytes=self.max_payload_bytes,
                    shared_state=self._shared_state,
                )
            except BaseException:
                self.stop()  # a definition error: leave no embedded backend running
                raise
            if self._filters_versions():
                worker.use_work_item_filters(work_item_filters(self._versions, worker))
            worker.start()
            self._worker = worker
        if self.retention is not None:
            target = self._target
            assert target is not None
            self._retention = RetentionLoop(
                lambda: create_client(target, asynchronous=True, logger=self._logger),
                self.retention,
                self._logger,
            )
            self._retention.start()

    def _filters_versions(self) -> bool:
        if self._version_filters is not None:
            return self._version_filters
        return isinstance(self._target, ConnectionSettings) and self._target.is_scheduler

    def stop(self) -> None:
        """Stop the worker and the embedded backend (after the work it already handed out)."""
        if self._retention is not None:
            self._retention.stop()
            self._retention = None
        if self._backend is not None and self._worker is not None:
            self._backend.wait_idle(DRAIN_SECONDS)
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        if self._shared_state is not None:
            self._shared_state.close()
            self._shared_state = None
        if self._signaller is not None:
            self._signaller.close()
            self._signaller = None
        if self._inprocess is not None:
            self._inprocess.close()
            self._inprocess = None
        if self._backend is not None:
            self._backend.stop()
            self._backend = None
        self._target = None
        with _exit_hook_lock:
            _running_hosts.discard(self)

    async def aclose(self) -> None:
        """Close this loop's client, then stop."""
        for client in list(self._clients.values()):
            try:
                await client.close()
            except Exception:  # a client of another (closed) loop
                self._logger.debug("could not close a client", exc_info=True)
        self._clients.clear()
        await asyncio.to_thread(self.stop)

    async def __aenter__(self) -> DurableWorkflowHost:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> DurableWorkflowHost:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


_running_hosts: set[DurableWorkflowHost] = set()
"""Started hosts, until stopped (a dropped host's threads run on, so it is kept too)."""
_exit_hook_lock = threading.Lock()
_exit_hook_installed = False


def _stop_at_exit(host: DurableWorkflowHost) -> None:
    """Stop `host` when the interpreter exits, if nobody did.

    The worker's and the backend's threads are not daemons, and the backend's stream threads
    never return while a worker is connected, so without this a process that forgets
    ``stop()`` never exits. The hook runs before Python joins those threads (it is a
    `threading` exit hook, like `concurrent.futures`' own, not an `atexit` one).
    """
    global _exit_hook_installed
    with _exit_hook_lock:
        _running_hosts.add(host)
        if _exit_hook_installed:
            return
        _exit_hook_installed = True
    register_hook = getattr(threading, "_register_atexit", None)
    if register_hook is None:  # pragma: no cover - every CPython >= 3.9 has it
        import atexit

        atexit.register(_stop_running_hosts)
    else:
        register_hook(_stop_running_hosts)


def _stop_running_hosts() -> None:
    with _exit_hook_lock:
        hosts = list(_running_hosts)
    for host in hosts:
        try:
            host.stop()
        except Exception:  # exiting anyway; one host's failure must not keep the others
            logging.getLogger("durable_workflows").exception("could not stop a host at exit")


def _workflow_list(workflows: Workflow | Iterable[Workflow]) -> list[Workflow]:
    """The host's workflows: one `Workflow`, or any iterable of them (not builders)."""
    if isinstance(workflows, (Workflow, WorkflowBuilder)):
        items: list[Any] = [workflows]
    else:
        try:
            items = list(workflows)
        except TypeError:
            msg = f"workflows= takes a Workflow or a list of them, not {a_type(workflows)}"
            raise DurableWorkflowsError(msg) from None
    for item in items:
        if isinstance(item, WorkflowBuilder):
            msg = f"the host was given a WorkflowBuilder ({item.name!r}); build it first: builder.build()"
            raise DurableWorkflowsError(msg)
        if not isinstance(item, Workflow):
            msg = f"workflows= takes Workflow objects, not {a_type(item)}"
            raise DurableWorkflowsError(msg)
    return items


def _virtual_clock(
    clock: Literal["system", "virtual"] | VirtualClock, *, embedded: bool
) -> VirtualClock | None:
    if clock == "system":
        return None
    if not embedded:
        raise DurableWorkflowsError("clock='virtual' needs the embedded backend (no connection string)")
    if isinstance(clock, VirtualClock):
        return clock
    if clock == "virtual":
        return VirtualClock()
    raise DurableWorkflowsError(f"clock must be 'system', 'virtual' or a VirtualClock, not {clock!r}")


def _all_agents(agents: list[WorkflowAgent], workflows: list[Workflow]) -> list[WorkflowAgent]:
    found = {a.name: a for a in agents}
    for workflow in workflows:
        for node in workflow.nodes.values():
            if isinstance(node, AgentNode):
                found.setdefault(node.agent.name, node.agent)
    return list(found.values())
