"""Retention: purge finished runs, with their event logs, once they are older than a limit.

`purge_runs` does one pass through a durabletask async client (``client.purge_runs``, the
``purge`` command); `RetentionLoop` repeats it in a thread of its own for a host started with
``retention=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from ..durable.names import EVENT_CHUNK, EVENT_LOG_ENTITY, SHARED_STATE_ENTITY, orchestrator_name
from ..errors import DurableWorkflowsError
from .run_info import utc

_FINISHED = ("COMPLETED", "FAILED", "TERMINATED")
_PREFIX = orchestrator_name("")
MIN_INTERVAL = timedelta(seconds=1)
MAX_INTERVAL = timedelta(minutes=10)
PURGE_CONCURRENCY = 16
"""Purges in flight at once (a backend commits concurrent ones together)."""


def cutoff(older_than: timedelta | datetime) -> datetime:
    """The moment before which finished runs are purged (`older_than` ago, or that moment)."""
    if isinstance(older_than, datetime):
        return utc(older_than)
    if older_than < timedelta(0):
        raise DurableWorkflowsError(f"older_than must not be negative, not {older_than}")
    return datetime.now(timezone.utc) - older_than


async def purge_runs(durable_client: Any, older_than: timedelta | datetime) -> int:
    """Delete the workflow runs and agent turns that finished before the cut-off, the event
    logs of streamed runs and the shared state a cancelled run left; returns how many runs
    were deleted."""
    from durabletask.client import OrchestrationQuery, OrchestrationStatus
    from durabletask.entities import EntityInstanceId

    until = cutoff(older_than)
    query = OrchestrationQuery(
        created_time_to=until,
        runtime_status=[OrchestrationStatus[s] for s in _FINISHED],
        fetch_inputs_and_outputs=False,
    )
    gate = asyncio.Semaphore(PURGE_CONCURRENCY)

    async def purge(state: Any) -> int:
        async with gate:
            custom = json.loads(state.serialized_custom_status or "{}")
            if isinstance(custom, dict) and custom.get("stream"):
                for chunk in range(-(-int(custom.get("sequence", 0)) // EVENT_CHUNK)):
                    entity = EntityInstanceId(EVENT_LOG_ENTITY, f"{state.instance_id}~{chunk}")
                    await durable_client.signal_entity(entity, "delete")
            if state.runtime_status.name == "TERMINATED":  # ended without dropping its state
                entity = EntityInstanceId(SHARED_STATE_ENTITY, state.instance_id)
                await durable_client.signal_entity(entity, "delete")
            result = await durable_client.purge_orchestration(state.instance_id, recursive=True)
            return int(result.deleted_instance_count)

    old = [
        state
        for state in await durable_client.get_all_orchestration_states(query)
        if state.name.startswith(_PREFIX) and utc(state.last_updated_at) < until
    ]
    return sum(await asyncio.gather(*(purge(state) for state in old)))


def check_retention(retention: timedelta | None) -> timedelta | None:
    """`retention` if it is a positive duration (or None), else a clear error."""
    if retention is not None and (
        not isinstance(retention, timedelta) or retention <= timedelta(0)
    ):
        msg = f"retention must be a positive timedelta (e.g. timedelta(days=7)), not {retention!r}"
        raise DurableWorkflowsError(msg)
    return retention


class RetentionLoop:
    """Purges runs older than `retention` every tenth of it (between 1 s and 10 min).

    `connect` makes the durabletask async client, on the loop's own thread.
    """

    def __init__(
        self, connect: Callable[[], Any], retention: timedelta, logger: logging.Logger
    ) -> None:
        self._connect = connect
        self.retention = retention
        self.interval = min(max(retention / 10, MIN_INTERVAL), MAX_INTERVAL)
        self._logger = logger
        self._loop = asyncio.new_event_loop()
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self.purged = 0
        """How many runs this loop purged so far."""

    def start(self) -> None:
        """Start purging in the background."""
        self._thread = threading.Thread(target=self._run, name="dw-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop, abandoning the pass in progress (the next one picks up where it ended)."""
        self._stop.set()
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._cancel)
            self._thread.join()
        self._loop.close()

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _run(self) -> None:
        self._task = self._loop.create_task(self._main())
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._task)

    async def _main(self) -> None:
        client = self._connect()
        try:
            while not self._stop.is_set():
                try:
                    self.purged += await purge_runs(client, self.retention)
                except Exception:
                    self._logger.warning("retention: a purge pass failed", exc_info=True)
                await asyncio.sleep(self.interval.total_seconds())
        finally:
            await client.close()
