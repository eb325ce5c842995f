"""Handing work to worker streams, lease expiry, and the timer thread."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from durable_workflows.sidecar.clock import Clock
from durable_workflows.sidecar.core import log
from durable_workflows.sidecar.leases import FilterMap, K, Kind, Lease, ReadyQueue, Stream
from durable_workflows.sidecar.model import (
    failure_details,
    orchestration_instance,
    orchestrator_started,
    pb,
    string_value,
)
from durable_workflows.sidecar.orchestrations import Engine
from durable_workflows.sidecar.store import Store

_UNLIMITED = 1 << 30
_ENTITY_BATCH = 100
STREAM_ORDER: tuple[Kind, ...] = ("orchestration", "activity", "entity")
"""The order in which a stream is offered ready work (a remote worker queues it all)."""

MAX_WORK_ITEM_BYTES = 256 * 1024 * 1024
"""Largest orchestrator or activity work item handed to a worker; a bigger one fails its run."""

MAX_DELIVERIES = 10
"""Failed deliveries (see `LeaseTable.failed`) in a row after which an item fails."""


class Dispatcher(Engine):
    """The complete engine: state, orchestrations, entities, plus dispatch and timers."""

    def __init__(self, store: Store, *, max_history: int, lease_seconds: float,
                 ping_interval: float, clock: Clock | None = None,
                 max_work_item_bytes: int = MAX_WORK_ITEM_BYTES,
                 max_deliveries: int = MAX_DELIVERIES) -> None:
        super().__init__(store, max_history=max_history, lease_seconds=lease_seconds,
                         clock=clock)
        self.ping_interval = ping_interval
        self.max_work_item_bytes = max_work_item_bytes
        self.max_deliveries = max_deliveries
        self._poisoned: list[tuple[Kind, str | int, Any]] = []
        """Items refused at dispatch, with their failure details; the timer thread fails them."""
        self._stream_ids = itertools.count(1)
        self._streams: set[int] = set()
        self._timer_wakeup = 0.0
        """Monotonic time the timer thread sleeps until."""
        self._avoid: dict[tuple[Kind, str | int], int] = {}
        """Items whose lease expired, and the stream that let it expire (tried last)."""
        self._timer_thread = threading.Thread(
            target=self._run_timers, name="sidecar-timers", daemon=True)
        self._timer_thread.start()
        self.clock.subscribe(self._clock_moved)

    def close(self) -> None:
        """Stop the timer thread and wake every waiting stream and state waiter."""
        self.clock.unsubscribe(self._clock_moved)
        with self._lock:
            self.closed = True
            self._work_cv.notify_all()
            self._sched_cv.notify_all()
            for waiters in self._waiters.values():
                for waker, _ in waiters:
                    waker.set()
        self._timer_thread.join()

    # -- streams ---------------------------------------------------------------------------

    def open_stream(self, request: Any) -> Stream:
        """Register a worker's ``GetWorkItems`` stream."""
        limits: dict[Kind, int] = {
            "orchestration": request.maxConcurrentOrchestrationWorkItems or _UNLIMITED,
            "activity": request.maxConcurrentActivityWorkItems or _UNLIMITED,
            "entity": request.maxConcurrentEntityWorkItems or _UNLIMITED,
        }
        filters: dict[Kind, FilterMap | None] = {
            "orchestration": None, "activity": None, "entity": None}
        if request.HasField("workItemFilters"):
            wf = request.workItemFilters
            filters["orchestration"] = _filter_map(wf.orchestrations)
            filters["activity"] = _filter_map(wf.activities)
            filters["entity"] = {f.name: frozenset() for f in wf.entities}
        with self._lock:
            stream = Stream(next(self._stream_ids), limits, filters)
            self._streams.add(stream.stream_id)
            return stream

    def close_stream(self, stream: Stream) -> None:
        """The worker went away: its leased items become available to other workers."""
        with self._lock:
            if stream.closed:
                return
            stream.closed = True
            self._streams.discard(stream.stream_id)
            for item in [k for k, sid in self._avoid.items() if sid == stream.stream_id]:
                del self._avoid[item]
            released = self.leases.of_stream(stream)
            if released:  # a worker whose receive limit an item exceeds breaks on the largest
                self.leases.failed(max(released, key=lambda lease: lease.size))
            for lease in released:
                self._release(lease)
            if released:
                log.warning("worker stream %d closed holding %d work item(s); redelivering",
                            stream.stream_id, len(released))
            self._work_cv.notify_all()

    def drain(self, stream: Stream) -> None:
        """Give ``stream`` no more work items (waiting takers get None); its leases stay."""
        with self._lock:
            stream.draining = True
            self._work_cv.notify_all()

    def next_work_item(self, stream: Stream, order: tuple[Kind, ...] = STREAM_ORDER) -> Any:
        """Block until there is work for ``stream`` (or a health ping is due); None once closed
        or draining. ``order`` is the preference between ready kinds of work."""
        with self._lock:
            while not (stream.closed or stream.draining or self.closed):
                item = self._take(stream, order)
                now = time.monotonic()
                if item is None and now - stream.last_sent >= self.ping_interval:
                    item = pb.WorkItem(healthPing=pb.HealthPing())
                if item is not None:
                    stream.last_sent = now
                    return item
                self._work_cv.wait(stream.last_sent + self.ping_interval - now)
            return None

    def take_work_item(self, stream: Stream, order: tuple[Kind, ...] = STREAM_ORDER) -> Any:
        """A work item for ``stream`` if one is ready now, else None; never waits."""
        with self._lock:
            if stream.closed or stream.draining or self.closed:
                return None
            item = self._take(stream, order)
            if item is not None:
                stream.last_sent = time.monotonic()
            return item

    def _skip(self, stream: Stream, kind: Kind, key: str | int) -> bool:
        """Whether to leave an item for another stream (this one let its lease expire)."""
        return self._avoid.get((kind, key)) == stream.stream_id and len(self._streams) > 1

    def _grant(self, kind: Kind, key: str | int, stream: Stream,
               token: str | None = None) -> Lease:
        self._avoid.pop((kind, key), None)
        lease = self.leases.grant(kind, key, stream, token)
        if lease.expires_at < self._timer_wakeup:
            self._sched_cv.notify()
        return lease

    def _take(self, stream: Stream, order: tuple[Kind, ...]) -> Any:
        takers = {"orchestration": self._take_orchestration, "activity": self._take_activity,
                  "entity": self._take_entity}
        for kind in order:
            if stream.has_room(kind):
                item = takers[kind](stream)
                if item is not None:
                    return item
        return None

    def _pick(self, stream: Stream, kind: Kind, ready: ReadyQueue[K],
              describe: Callable[[K], tuple[str, str | None] | None]) -> K | None:
        """Take the oldest ready item ``stream`` accepts off ``ready``, dropping stale entries.

        ``describe`` gives an item's name and version, or None when it is no longer ready.
        """
        stale: list[K] = []
        chosen = None
        for key in ready:
            described = describe(key)
            if described is None or self.leases.holder(kind, key) is not None:
                stale.append(key)
            elif stream.accepts(kind, *described) and not self._skip(stream, kind, key):
                chosen = key
                break
        for key in stale:
            ready.discard(key)
        if chosen is not None:
            ready.discard(chosen)
        return chosen

    def _take_orchestration(self, stream: Stream) -> Any:
        def describe(instance_id: str) -> tuple[str, str | None] | None:
            inst = self.instances.get(instance_id)
            if inst is None or not self._dispatchable(inst):
                return None
            return inst.name, inst.version

        while True:
            instance_id = self._pick(stream, "orchestration", self.ready_orchestrations, describe)
            if instance_id is None:
                return None
            chosen = self.instances[instance_id]
            new_events = [m.event for m in chosen.inbox]
            extra = []
            if chosen.history_len and not new_events[0].HasField("orchestratorStarted"):
                extra = [orchestrator_started(self.clock.time())]
            # built in place: a request built apart is copied again into its work item
            item = pb.WorkItem()
            request = item.orchestratorRequest
            request.instanceId = instance_id
            if chosen.execution_id is not None:
                request.executionId.value = chosen.execution_id
            request.pastEvents.extend(chosen.history or ())
            request.newEvents.extend(extra + new_events)
            size = request.ByteSize()
            if self._refused("orchestration", instance_id, size, f"orchestration {instance_id!r}"):
                continue
            lease = self._grant("orchestration", instance_id, stream)
            lease.rowids = [m.rowid for m in chosen.inbox]
            lease.extra = extra
            lease.size = size
            item.completionToken = lease.token
            return item

    def _take_activity(self, stream: Stream) -> Any:
        def describe(activity_id: int) -> tuple[str, str | None] | None:
            act = self.activities.get(activity_id)
            return None if act is None else (act.name, act.version)

        while True:
            activity_id = self._pick(stream, "activity", self.ready_activities, describe)
            if activity_id is None:
                return None
            chosen = self.activities[activity_id]
            request = pb.ActivityRequest(
                name=chosen.name,
                version=string_value(chosen.version),
                input=string_value(chosen.input),
                orchestrationInstance=orchestration_instance(
                    chosen.instance_id, chosen.execution_id),
                taskId=chosen.task_id,
                tags=chosen.tags,
            )
            size = request.ByteSize()
            what = f"activity {chosen.name!r} of {chosen.instance_id!r}"
            if self._refused("activity", activity_id, size, what):
                continue
            token = str(activity_id)
            self._grant("activity", activity_id, stream, token).size = size
            return pb.WorkItem(completionToken=token, activityRequest=request)

    def _refused(self, kind: Kind, key: str | int, size: int, what: str) -> bool:
        """Whether the item (of `size` bytes) cannot be delivered (too large, or handed out too
        often without a result); if so the timer thread fails it, so it never wedges."""
        if size > self.max_work_item_bytes:
            details = failure_details("WorkItemTooLarge", (
                f"the work item of {what} is {size:,} bytes, more than the sidecar's "
                f"max_work_item_bytes={self.max_work_item_bytes:,}; keep payloads small (pass "
                "large data by reference) or raise the limit"))
        elif self.leases.failures(kind, key) >= self.max_deliveries:
            details = failure_details("WorkItemUndeliverable", (
                f"the work item of {what} ({size:,} bytes) was handed to workers "
                f"{self.max_deliveries} times without a result (each time the worker's stream "
                "broke, it gave the item back, or its lease expired); check the worker logs, "
                "e.g. for a gRPC receive limit smaller than the item"))
        else:
            return False
        log.error("refusing %s: %s", what, details.errorMessage)
        self._poisoned.append((kind, key, details))
        self._sched_cv.notify()
        return True

    def _take_entity(self, stream: Stream) -> Any:
        def describe(entity_id: str) -> tuple[str, str | None] | None:
            entity = self.entities.get(entity_id)
            if entity is None or not self._runnable_ops(entity):
                return None
            return _entity_name(entity_id), None

        entity_id = self._pick(stream, "entity", self.ready_entities, describe)
        if entity_id is None:
            return None
        chosen = self.entities[entity_id]
        ops = self._runnable_ops(chosen)[:_ENTITY_BATCH]
        lease = self._grant("entity", entity_id, stream)
        lease.rowids = [m.rowid for m in ops]
        return pb.WorkItem(
            completionToken=lease.token,
            entityRequestV2=pb.EntityRequest(
                instanceId=entity_id,
                entityState=string_value(chosen.state),
                operationRequests=[m.event for m in ops],
            ),
        )

    def _release(self, lease: Lease) -> None:
        """End a lease without a result; the item becomes ready again."""
        self.leases.drop(lease)
        if lease.kind == "orchestration":
            self._mark_orchestration(str(lease.key))
        elif lease.kind == "activity":
            self._mark_activity(int(lease.key))
        else:
            self._mark_entity(str(lease.key))

    # -- timers and lease expiry -----------------------------------------------------------

    def _run_timers(self) -> None:
        with self._lock:
            while not self.closed:
                try:
                    self._fail_poisoned()
                    self._fire_due(self.clock.time())
                except Exception:
                    log.exception("failed to deliver due timers; retrying in 1 s")
                    self._sched_cv.wait(1.0)
                    continue
                expired = self.leases.pop_expired(time.monotonic())
                for lease in expired:
                    log.warning("lease on %s %s expired; redelivering", lease.kind, lease.key)
                    self.leases.failed(lease)
                    self._avoid[(lease.kind, lease.key)] = lease.stream.stream_id
                    self._release(lease)
                if expired:
                    self._work_cv.notify_all()
                wait = self._timer_wait()
                self._timer_wakeup = time.monotonic() + wait
                self._sched_cv.wait(wait)
                self._timer_wakeup = 0.0

    def _fail_poisoned(self) -> None:
        """Fail the items `_refused` set aside: their run, or the activity's task."""
        poisoned, self._poisoned = self._poisoned, []
        if not poisoned:
            return
        with self._tx():
            for kind, key, details in poisoned:
                self.leases.delivered(kind, key)
                if kind == "orchestration":
                    self._fail_with(str(key), details)
                else:
                    act = self.activities.get(int(key))
                    if act is not None:
                        self._fail_activity(act, details)
        self._store.flush()

    def _clock_moved(self) -> None:
        """The (virtual) clock jumped: deliver the timers now due before `advance` returns."""
        with self._lock:
            if not self.closed:
                self._fire_due(self.clock.time())
                self._sched_cv.notify_all()

    def is_idle(self) -> bool:
        """Whether nothing is ready, leased or due: every run waits for an event or a timer."""
        with self._lock:
            if self.activities or self._poisoned or self.leases.next_expiry() is not None:
                return False
            if any(self._dispatchable(inst) for inst in self.instances.values()):
                return False
            if any(self._runnable_ops(entity) for entity in self.entities.values()):
                return False
            next_timer = self._next_timer()
            return next_timer is None or next_timer > self.clock.time()

    def _timer_wait(self) -> float:
        wait = 30.0
        next_timer = self._next_timer()
        if next_timer is not None:
            wait = min(wait, self.clock.seconds_until(next_timer))
        next_expiry = self.leases.next_expiry()
        if next_expiry is not None:
            wait = min(wait, next_expiry - time.monotonic())
        return max(wait, 0.0)


def _filter_map(filters: Any) -> FilterMap:
    result: FilterMap = {}
    for f in filters:
        result[f.name] = result.get(f.name, frozenset()) | frozenset(f.versions)
    return result


def _entity_name(entity_id: str) -> str:
    parts = entity_id.split("@")
    return parts[1] if len(parts) >= 3 else entity_id
