"""`LocalWorker`: a durabletask worker's executors run on the sidecar's work items, in-process.

A `TaskHubGrpcWorker` carries its work items through a gRPC stream, a reader thread, a queue,
an asyncio loop and a thread pool before an executor sees them, and returns each result by a
unary RPC. When the worker and the sidecar share a process, `LocalWorker` skips all of that:
its threads take work items straight from the sidecar's dispatcher and hand them to the
worker's own orchestration, activity and entity executors (so replay and results are exactly
durabletask's), which complete them through an `InProcessChannel`. The worker keeps each
running orchestrator between its episodes (`sidecar/sticky.py`).

The sidecar sees one ordinary worker stream: leases, redelivery, filters and concurrency
limits work as for a remote worker, and remote workers may share the task hub.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.worker import TaskHubGrpcWorker

from durable_workflows.sidecar.flusher import Flusher
from durable_workflows.sidecar.inproc import InProcessChannel
from durable_workflows.sidecar.leases import Kind
from durable_workflows.sidecar.model import pb
from durable_workflows.sidecar.server import SqliteSidecar
from durable_workflows.sidecar.sticky import keep_orchestrators
from durable_workflows.sidecar.writer import TransactionFailedError

log = logging.getLogger("durable_workflows.sidecar")

TASKS_FIRST: tuple[Kind, ...] = ("activity", "entity", "orchestration")
"""A thread takes ready activities and entity batches before orchestrator episodes, so an
episode sees the results that are ready together (as a remote worker's FIFO pool does)."""

_EXECUTORS = {
    "orchestratorRequest": ("_execute_orchestrator", "_cancel_orchestrator"),
    "activityRequest": ("_execute_activity", "_cancel_activity"),
    "entityRequest": ("_execute_entity_batch", "_cancel_entity_batch"),
    "entityRequestV2": ("_execute_entity_batch", "_cancel_entity_batch"),
}
"""Work-item kind -> the worker's executor and its give-back (as its own stream loop uses)."""


class LocalWorker:
    """Runs `worker`'s registered orchestrators, activities and entities on `sidecar`.

    Register with it as with the worker itself; `start` and `stop` replace the worker's.

    ``threads`` work items run at once (the worker's ``maximum_thread_pool_workers``). One
    idle thread at a time waits for work (leader/followers), so a new item wakes one thread;
    a thread that completes an item takes the next ready one itself, so a sequence of steps
    stays on one thread.
    """

    def __init__(self, sidecar: SqliteSidecar, worker: TaskHubGrpcWorker) -> None:
        self._worker = worker
        self._servicer = sidecar.servicer
        self._engine = self._servicer.engine
        stub: Any = stubs.TaskHubSidecarServiceStub
        self._stub = stub(InProcessChannel(self._servicer))
        self._threads: list[threading.Thread] = []
        self._listen = threading.Lock()
        self._stream: Any = None
        self._completions: Any = None
        self._flusher: Flusher | None = None
        self._next = threading.local()
        """``item``: the work item the current thread took when it completed its last one."""
        self._kept = keep_orchestrators(worker)

    @property
    def worker(self) -> TaskHubGrpcWorker:
        """The durabletask worker whose registrations and executors this one uses."""
        return self._worker

    def __getattr__(self, name: str) -> Any:
        """Everything but `start` and `stop` is the durabletask worker's (``add_activity``,
        ``use_work_item_filters``, ...), so code that configures a worker configures this one."""
        return getattr(self._worker, name)

    def start(self) -> None:
        """Open a work-item stream on the sidecar and start the threads."""
        if self._stream is not None:
            raise RuntimeError("the local worker is already running")
        self._stream = self._engine.open_stream(self._request())
        self._flusher = Flusher(self._engine)
        self._completions = _Completions(
            self._engine, self._stub, self._stream, self._next, self._flusher)
        count = self._worker.concurrency_options.maximum_thread_pool_workers
        self._threads = [
            threading.Thread(target=self._serve, args=(self._stream,),
                             name=f"dw-local-worker-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Take no new work, let the items in flight finish, then close the stream."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        self._engine.drain(stream)
        for thread in self._threads:
            thread.join()
        self._threads = []
        if self._flusher is not None:
            self._flusher.stop()
            self._flusher = None
        if self._kept is not None:
            self._kept.clear()
        self._engine.close_stream(stream)

    def _request(self) -> Any:
        """The ``GetWorkItems`` request the worker's own stream loop would send."""
        options = self._worker.concurrency_options
        request = pb.GetWorkItemsRequest(
            maxConcurrentOrchestrationWorkItems=options.maximum_concurrent_orchestration_work_items,
            maxConcurrentActivityWorkItems=options.maximum_concurrent_activity_work_items,
        )
        filters = self._worker._work_item_filters
        if filters is not None:
            request.workItemFilters.CopyFrom(filters._to_grpc())
        return request

    def _serve(self, stream: Any) -> None:
        while True:
            with self._listen:
                item = self._engine.next_work_item(stream, TASKS_FIRST)
            if item is None:
                return
            while item is not None:
                self._next.item = None
                self._execute(item)
                item = self._next.item

    def _execute(self, item: Any) -> None:
        kind = item.WhichOneof("request")
        names = _EXECUTORS.get(kind)
        if names is None:  # a health ping
            return
        request, token = getattr(item, kind), item.completionToken
        execute, cancel = (getattr(self._worker, name) for name in names)
        try:
            execute(request, self._completions, token)
        except Exception:
            log.exception("work item %s failed in the local worker; giving it back", kind)
            try:
                cancel(request, self._completions, token)
            except Exception:
                log.exception("could not give back work item %s", kind)


class _Completions:
    """The stub the executors report through. A result is applied, then the reporting thread
    takes the next ready work item for itself before it waits for the commit (a remote worker's
    stream gets that item at the same moment), then the commit is awaited as the servicer
    would. Other calls (give-backs) go through the servicer."""

    def __init__(self, engine: Any, stub: Any, stream: Any, pending: threading.local,
                 flusher: Flusher) -> None:
        self._engine = engine
        self._stub = stub
        self._stream = stream
        self._pending = pending
        self._flusher = flusher

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stub, name)

    def CompleteOrchestratorTask(self, request: Any, **_: Any) -> Any:
        """Apply an orchestrator step."""
        return self._complete(self._engine.complete_orchestration, request)

    def CompleteActivityTask(self, request: Any, **_: Any) -> Any:
        """Record an activity result, acknowledged before its commit (`flusher.py`): it is
        saved with the orchestrator step this thread runs next, when that step completes, or
        else at most `FLUSH_DELAY` later. An orchestrator step's completion waits for every
        change before it, so the result is durable before anything that depends on it is."""
        return self._complete(self._engine.complete_activity, request, deferred=True)

    def CompleteEntityTask(self, request: Any, **_: Any) -> Any:
        """Apply an entity batch."""
        return self._complete(self._engine.complete_entity, request)

    def _complete(self, apply: Any, request: Any, *, deferred: bool = False) -> Any:
        apply(request)
        item = self._pending.item = self._engine.take_work_item(self._stream, TASKS_FIRST)
        if deferred:
            if item is None or not item.HasField("orchestratorRequest"):
                self._flusher.defer()  # (else the step this thread runs next commits it)
            return pb.CompleteTaskResponse()
        try:
            self._engine.sync()
        except TransactionFailedError:
            self._pending.item = None  # the engine reloaded: that item's lease is gone
            raise
        return pb.CompleteTaskResponse()
