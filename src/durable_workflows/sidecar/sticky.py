"""Sticky orchestrations: a local worker keeps each running orchestrator between episodes.

durabletask replays an orchestrator's whole history at every episode, so an episode costs in
proportion to the history behind it. A worker that shares the sidecar's process can keep the
orchestrator it ran (its context and suspended generator) and, when the next episode's history
is the one it saw plus what its own actions appended, replay only that tail (the
``taskScheduled`` and similar events that consume its pending actions) before the new events.
What the orchestrator sees is exactly what a full replay would give it; a history that does not
continue the kept one (a redelivered episode after a failed commit, a rewind, a new generation,
an evicted entry) gets a full replay as before.

`keep_orchestrators` rebinds a worker's ``_execute_orchestrator`` (durabletask's own code) to
build `StickyExecutor` instead of its ``_OrchestrationExecutor``, so tracing, payload handling,
abandonment and error reporting stay durabletask's. A worker whose episodes move between
processes still gains: a kept orchestrator replays another worker's steps as a tail, since a
history only ever grows at its end within a generation.
"""

from __future__ import annotations

import functools
import itertools
import threading
import types
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import durabletask.internal.exceptions as pe
from durabletask import task
from durabletask.worker import (
    ExecutionResults,
    TaskHubGrpcWorker,
    VersionFailureStrategy,
    _OrchestrationExecutor,
    _RuntimeOrchestrationContext,
)

MAX_KEPT = 1000
"""Orchestrators kept between episodes per worker, least recently run dropped first (as
Temporal's Python SDK caches 1,000 workflows per worker by default)..."""
MAX_KEPT_BYTES = 256 * 1024 * 1024
"""...and at most this many bytes of history behind them (what they hold grows with it: a run
waiting for weeks with megabytes of state should not pin that state in memory)."""


class StickyCache:
    """Orchestrators kept between episodes, by instance id. An episode takes its instance's
    entry out (so no two threads share one) and puts it back when the run goes on."""

    def __init__(self, capacity: int = MAX_KEPT, capacity_bytes: int = MAX_KEPT_BYTES) -> None:
        self._capacity = capacity
        self._capacity_bytes = capacity_bytes
        self._entries: OrderedDict[str, StickyExecutor] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, instance_id: str) -> StickyExecutor | None:
        """Remove and return the orchestrator kept for ``instance_id``, if any."""
        with self._lock:
            executor = self._entries.pop(instance_id, None)
            if executor is not None:
                self._bytes -= executor.history_bytes
            return executor

    def keep(self, instance_id: str, executor: StickyExecutor) -> None:
        """Keep ``executor`` for the instance's next episode."""
        if executor.history_bytes > self._capacity_bytes:
            return
        with self._lock:
            self._entries[instance_id] = executor
            self._bytes += executor.history_bytes
            while len(self._entries) > self._capacity or self._bytes > self._capacity_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.history_bytes

    def clear(self) -> None:
        """Drop every kept orchestrator."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0


class StickyExecutor(_OrchestrationExecutor):
    """durabletask's orchestration executor that keeps its context for the next episode."""

    def __init__(self, cache: StickyCache, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache = cache
        self._ctx: _RuntimeOrchestrationContext | None = None
        self._seen = 0
        """Events of the history this executor has processed."""
        self._last: Any = None
        """The last of them, to check that the next history continues it."""
        self._started: tuple[int, Any] = (-1, None)
        """The position of the generation's ``executionStarted`` event, and the event."""
        self.history_bytes = 0
        """Encoded size of the history processed (what the orchestrator holds grows with it)."""

    def execute(
        self, instance_id: str, old_events: Sequence[Any], new_events: Sequence[Any],
    ) -> ExecutionResults:
        """Continue the kept orchestrator when ``old_events`` continue its history; otherwise
        replay all of it, as durabletask does."""
        kept = self._cache.take(instance_id)
        if any(event.HasField("executionRewound") for event in new_events):
            return super().execute(instance_id, old_events, new_events)
        if kept is not None and kept._continues(old_events):
            return kept._advance(instance_id, old_events[kept._seen:], new_events)
        self._ctx = _RuntimeOrchestrationContext(
            instance_id, self._registry, maximum_timer_interval=self._maximum_timer_interval,
            data_converter=self._data_converter,
            exception_properties_provider=self._exception_properties_provider,
            logger=self._logger,
        )
        events = itertools.chain(old_events, new_events)
        for index, event in enumerate(itertools.islice(events, 4)):
            if event.HasField("executionStarted"):
                self._started = (index, event)
                self._orchestration_name = event.executionStarted.name
                break
        return self._advance(instance_id, old_events, new_events)

    def _continues(self, old_events: Sequence[Any]) -> bool:
        index, started = self._started
        return (
            started is not None and len(old_events) >= self._seen > index
            and old_events[self._seen - 1] == self._last and old_events[index] == started
        )

    def _advance(
        self, instance_id: str, replayed: Sequence[Any], new_events: Sequence[Any],
    ) -> ExecutionResults:
        """Replay ``replayed``, then run ``new_events`` (durabletask's ``execute`` body)."""
        if not new_events:
            raise task.OrchestrationStateError(
                "The new history event list must have at least one event in it.")
        ctx = self._ctx
        assert ctx is not None
        failed = False
        try:
            ctx._is_replaying = True
            for event in replayed:
                self.process_event(ctx, event)
            ctx._is_replaying = False
            for event in new_events:
                self.process_event(ctx, event)
        except pe.VersionFailureException as ex:
            versioning = self._registry.versioning
            if versioning and versioning.failure_strategy == VersionFailureStrategy.REJECT:
                raise pe.AbandonOrchestrationError from ex
            failed = True
            if versioning and versioning.failure_strategy == VersionFailureStrategy.FAIL:
                ctx.set_failed(ex.error_details or ex)
        except Exception as ex:
            failed = True
            ctx.set_failed(ex)
        self._seen += len(replayed) + len(new_events)
        self.history_bytes += sum(event.ByteSize() for event in itertools.chain(replayed, new_events))
        self._last = new_events[-1]
        if self._started[1] is not None and not failed and not ctx._is_complete:
            self._cache.keep(instance_id, self)
        return ExecutionResults(
            actions=ctx.get_actions(), encoded_custom_status=ctx._encoded_custom_status,
            orchestration_trace_context=ctx._orchestration_trace_context,
        )


def keep_orchestrators(worker: TaskHubGrpcWorker) -> StickyCache | None:
    """Make ``worker`` keep its orchestrators between episodes, whether its work items come
    over gRPC or from a `LocalWorker`: its ``_execute_orchestrator`` becomes durabletask's own
    function body, compiled against durabletask's module with ``_OrchestrationExecutor``
    replaced by `StickyExecutor`. Returns the cache, or None (and leaves the worker alone)
    when the worker's class runs orchestrators its own way."""
    function = TaskHubGrpcWorker._execute_orchestrator
    if type(worker)._execute_orchestrator is not function:
        return None
    if "_OrchestrationExecutor" not in function.__code__.co_names:  # pragma: no cover
        raise RuntimeError("durabletask's _execute_orchestrator no longer builds an "
                           "_OrchestrationExecutor; sticky orchestrations need updating")
    cache = StickyCache()
    names = dict(function.__globals__)
    names["_OrchestrationExecutor"] = functools.partial(StickyExecutor, cache)
    rebound = types.FunctionType(function.__code__, names, function.__name__,
                                 function.__defaults__, function.__closure__)
    worker._execute_orchestrator = types.MethodType(rebound, worker)  # type: ignore[method-assign]
    return cache


__all__ = ["MAX_KEPT", "StickyCache", "StickyExecutor", "keep_orchestrators"]
