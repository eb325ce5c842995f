"""`DurableWorkflowHost`: starts a backend (when embedded) and a worker, and hands out a client."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import weakref
from collections.abc import Callable, Iterable
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal

from ..durable.agent_stream import StreamSignaller
from ..durable.registration import register
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
    ``clock="virtual"`` (embedded backend, for tests) stops time until `advance` moves it.

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
        logger: logging.Logger | None = None,
        token: str | None = None,
        clock: Literal["system", "virtual"] | VirtualClock = "system",
    ) -> None:
        if mode not in ("all", "worker", "client"):
            raise DurableWorkflowsError(f"mode must be 'all', 'worker' or 'client', not {mode!r}")
        self.workflows = _workflow_list(workflows)
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
        self._max_concurrency = max_concurrency
        self._logger = logger or durabletask_logger()
        self._backend: SqliteSidecar | None = None
        self._worker: Any = None
        self._signaller: StreamSignaller | None = None
        self._target: ConnectionSettings | str | None = None
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WorkflowClient] = (
            weakref.WeakKeyDictionary()
        )
        self._agents = _all_agents(list(agents), self.workflows)
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
            durable = create_client(self._target, asynchronous=True, logger=self._logger)
            client = self._clients[loop] = WorkflowClient(
                durable, self.workflows, served_only=True
            )
        return client

    @property
    def agents(self) -> AgentClient:
        """The hosted agents for direct use: ``await host.agents.get("Joker").run("Hi")``."""
        return AgentClient(self.client.durable_client, self._agents)

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
        else:
            self._target = self._settings
        if self.mode != "client":
            if isinstance(self._target, ConnectionSettings) and not self._target.is_scheduler:
                check_token(self._target)
            target = self._target
            self._signaller = StreamSignaller(lambda: create_client(target, logger=self._logger))
            worker: Any = create_worker(
                self._target, max_concurrency=self._max_concurrency, logger=self._logger
            )
            try:
                register(
                    worker,
                    self.workflows,
                    self._agents,
                    orchestrations=self.orchestrations,
                    activities=self.activities,
                    default_session_ttl=self.default_session_ttl,
                    stream_signaller=self._signaller,
                )
            except BaseException:
                self.stop()  # a definition error: leave no embedded backend running
                raise
            worker.start()
            self._worker = worker

    def stop(self) -> None:
        """Stop the worker and the embedded backend (after the work it already handed out)."""
        if self._backend is not None and self._worker is not None:
            self._backend.wait_idle(DRAIN_SECONDS)
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        if self._signaller is not None:
            self._signaller.close()
            self._signaller = None
        if self._backend is not None:
            self._backend.stop()
            self._backend = None
        self._target = None

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
