"""The engine's state and its primitives: transactions, inboxes, timers, readiness, waiters."""

from __future__ import annotations

import heapq
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from durable_workflows.sidecar.clock import Clock, SystemClock
from durable_workflows.sidecar.leases import LeaseTable, ReadyQueue
from durable_workflows.sidecar.model import (
    PENDING,
    SUSPENDED,
    Activity,
    Delayed,
    Entity,
    HistoryEvent,
    Instance,
    LockRequest,
    Message,
    ParentRef,
    execution_started,
    orchestrator_started,
)
from durable_workflows.sidecar.store import Store
from durable_workflows.sidecar.writer import TransactionFailedError, Waker

Seen = tuple[int | None] | tuple[int | None, str | None]
"""What a state waiter saw: the instance's status, maybe with its custom status."""

log = logging.getLogger("durable_workflows.sidecar")

RECENTLY_FINISHED = 128
"""Finished instances kept in memory for the reads that follow their end (waits, status)."""


class Core:
    """State shared by all engine layers. Methods starting with ``_`` need ``_lock`` held."""

    def __init__(self, store: Store, *, max_history: int, lease_seconds: float,
                 clock: Clock | None = None) -> None:
        self._store = store
        self.clock: Clock = clock or SystemClock()
        """Timer times and ``orchestratorStarted`` timestamps (virtual in tests)."""
        self.max_history = max_history
        self._lock = threading.Lock()
        self._work_cv = threading.Condition(self._lock)
        self._sched_cv = threading.Condition(self._lock)
        self.leases = LeaseTable(lease_seconds)
        self.instances: dict[str, Instance] = {}
        """Instances that have not finished; finished ones are read from the database."""
        self._finished: OrderedDict[str, Instance] = OrderedDict()
        self.entities: dict[str, Entity] = {}
        self.activities: dict[int, Activity] = {}
        self.delayed: dict[int, Delayed] = {}
        self.lock_requests: list[LockRequest] = []
        self._delayed_heap: list[tuple[float, int]] = []
        self.ready_orchestrations: ReadyQueue[str] = ReadyQueue()
        self.ready_activities: ReadyQueue[int] = ReadyQueue()
        self.ready_entities: ReadyQueue[str] = ReadyQueue()
        self._waiters: dict[str, list[tuple[Waker, Seen]]] = {}
        """Per instance, who waits for it to change, and from what (see `_seen`)."""
        self._touched: set[str] = set()
        self._work_added = False
        self._timer_added = False
        self.closed = False
        self._load()

    @property
    def lock(self) -> threading.Lock:
        """The engine lock; hold it to read engine state consistently."""
        return self._lock

    def history(self, instance_id: str) -> list[HistoryEvent] | None:
        """A copy of the instance's history, or None if there is no such instance."""
        with self._lock:
            inst = self.lookup(instance_id)
            if inst is None:
                return None
            if inst.history is None:
                return self._store.load_history(instance_id)
            return list(inst.history)

    def lookup(self, instance_id: str) -> Instance | None:
        """The instance, finished or not, or None (call with the lock held).

        A finished instance not recently finished is read from the database.
        """
        inst = self.instances.get(instance_id) or self._finished.get(instance_id)
        return inst if inst is not None else self._store.load_instance(instance_id)

    def finished(self, statuses: list[int] | None = None, *,
                 created: tuple[float | None, float | None] = (None, None),
                 completed: tuple[float | None, float | None] = (None, None),
                 prefix: str = "") -> list[Instance]:
        """Finished instances from the database, filtered (call with the lock held)."""
        return self._store.finished_instances(statuses or (), created=created,
                                              completed=completed, prefix=prefix)

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """Stage one transaction; it is committed by `sync` (or the next read or timer).

        If the body raises, its staged statements are dropped and memory is rebuilt from the
        database. Memory changes are visible at once; the state waiters are released, and
        RPCs answer (`sync`), only once the transaction is durable. A transaction staged
        after a failed commit fails too, until the engine has reloaded.
        """
        try:
            yield
        except BaseException:
            self._store.discard()
            log.exception("sidecar transaction failed; reloading state from the database")
            self._reload()
            raise
        wake: list[Waker] = []
        for instance_id in self._touched:
            waiters = self._waiters.pop(instance_id, None)
            if not waiters:
                continue
            now = self._seen(instance_id, custom=True)
            for waker, seen in waiters:
                if seen == now[:len(seen)]:
                    self._waiters.setdefault(instance_id, []).append((waker, seen))
                else:
                    wake.append(waker)
        self._touched.clear()
        self._store.submit(wake)
        self._notify()

    def sync(self) -> None:
        """Wait until every change submitted so far is durable (call without the lock).

        Raises `TransactionFailedError` if it was rolled back; the engine then reloads.
        """
        ticket = self._store.last_ticket
        if ticket is None:
            return
        try:
            self._store.commit(ticket)
        except TransactionFailedError:
            with self._lock:
                if self._store.broken:
                    self._reload()
            raise

    def settled(self) -> bool:
        """Whether every change staged so far is durable (a read now needs no `sync`)."""
        ticket = self._store.last_ticket
        return ticket is None or (ticket.done() and ticket.error is None)

    def _notify(self) -> None:
        """Wake worker streams and the timer thread if there is new work or a new timer."""
        if self._work_added:
            self._work_added = False
            self._work_cv.notify_all()
        if self._timer_added:
            self._timer_added = False
            self._sched_cv.notify_all()

    def _load(self) -> None:
        """Fill memory from the database and queue everything that is ready."""
        snap = self._store.load()
        self.instances = snap.instances
        self._finished.clear()
        self.entities = snap.entities
        self.activities = snap.activities
        self.delayed = snap.delayed
        self.lock_requests = snap.lock_requests
        self._delayed_heap = [(d.fire_at, d.rowid) for d in self.delayed.values()]
        heapq.heapify(self._delayed_heap)
        for instance_id in self.instances:
            self._mark_orchestration(instance_id)
        for activity_id in self.activities:
            self._mark_activity(activity_id)
        for entity_id in self.entities:
            self._mark_entity(entity_id)
        self._timer_added = True

    def _reload(self) -> None:
        """Rebuild memory from the database (after a failed transaction)."""
        self._store.recover()
        self.leases.clear()
        for queue in (self.ready_orchestrations, self.ready_activities, self.ready_entities):
            queue.clear()
        self._touched.clear()
        for waiters in self._waiters.values():
            for waker, _ in waiters:
                waker.set()
        self._waiters.clear()
        self._load()
        self._notify()

    # -- instances -------------------------------------------------------------------------

    def _save(self, inst: Instance) -> None:
        """Stage the instance's row and wake its state waiters once it is durable."""
        inst.updated_at = time.time()
        self._store.save_instance(inst)
        self._touched.add(inst.instance_id)

    def _append_history(self, inst: Instance, events: list[HistoryEvent]) -> None:
        """Add ``events`` to the instance's history, in memory (if loaded) and on disk."""
        if not events:
            return
        self._store.append_history(inst.instance_id, inst.history_len, events)
        if inst.history is not None:
            inst.history.extend(events)
        inst.history_len += len(events)

    def _new_instance(self, instance_id: str, name: str, input: str | None,
                      version: str | None, tags: dict[str, str], parent: ParentRef | None,
                      start_at: float | None = None) -> Instance:
        """Create and persist a PENDING instance and queue its start events."""
        now = time.time()
        inst = Instance(
            instance_id=instance_id, name=name, status=PENDING, execution_id=uuid.uuid4().hex,
            created_at=now, updated_at=now, version=version, input=input, tags=tags,
            parent=parent,
        )
        self.instances[instance_id] = inst
        self._save(inst)
        self._queue_start(inst, start_at)
        return inst

    def _evict(self, inst: Instance) -> None:
        """Drop a finished instance from memory (its row is staged; reads find it there)."""
        self.instances.pop(inst.instance_id, None)
        self._finished[inst.instance_id] = inst
        if len(self._finished) > RECENTLY_FINISHED:
            self._finished.popitem(last=False)

    def _revive(self, inst: Instance) -> None:
        """Bring a finished instance back into memory (it runs again: rewind)."""
        self._finished.pop(inst.instance_id, None)
        self.instances[inst.instance_id] = inst

    def _purge(self, instance_id: str) -> None:
        """Delete an instance and everything it owns."""
        self.instances.pop(instance_id, None)
        self._finished.pop(instance_id, None)
        self.ready_orchestrations.discard(instance_id)
        lease = self.leases.holder("orchestration", instance_id)
        if lease is not None:
            self.leases.drop(lease)
        for act in [a for a in self.activities.values() if a.instance_id == instance_id]:
            self._drop_activity(act)
        self._cancel_delayed("o", instance_id)
        self._store.delete_instance(instance_id)
        self._touched.add(instance_id)

    def _queue_start(self, inst: Instance, start_at: float | None,
                     extra: list[HistoryEvent] | None = None) -> None:
        """Queue ``orchestratorStarted`` + ``executionStarted`` (+ ``extra``), maybe delayed."""
        now = self.clock.time()
        started = orchestrator_started(now if start_at is None else start_at)
        events = [started, execution_started(inst), *(extra or [])]
        if start_at is not None and start_at > now:
            for event in events:
                self._schedule(start_at, "o", inst.instance_id, inst.execution_id, event)
        else:
            for event in events:
                self._deliver(inst.instance_id, event)

    def _deliver(self, instance_id: str, event: HistoryEvent) -> bool:
        """Append ``event`` to a live instance's inbox; False if the instance is gone or done."""
        inst = self.instances.get(instance_id)
        if inst is None or inst.terminal:
            return False
        rowid = self._store.add_message("o", instance_id, event)
        inst.inbox.append(Message(rowid, event))
        self._mark_orchestration(instance_id)
        return True

    def _dispatchable(self, inst: Instance) -> bool:
        """Whether the instance has inbox events a worker may process now."""
        if not inst.inbox or inst.terminal:
            return False
        if inst.history_len == 0 and not any(
                m.event.HasField("executionStarted") for m in inst.inbox):
            return False  # events raised before a scheduled start wait for it
        if inst.status != SUSPENDED:
            return True
        return any(
            m.event.HasField("executionResumed") or m.event.HasField("executionTerminated")
            for m in inst.inbox
        )

    def _mark_orchestration(self, instance_id: str) -> None:
        """Queue the instance for dispatch if it is dispatchable and not leased."""
        inst = self.instances.get(instance_id)
        if inst is None or self.leases.holder("orchestration", instance_id) is not None:
            return
        if self._dispatchable(inst):
            self.ready_orchestrations.add(instance_id)
            self._work_added = True

    def _mark_activity(self, activity_id: int) -> None:
        """Queue the activity for dispatch if it exists and is not leased."""
        if activity_id in self.activities and self.leases.holder("activity", activity_id) is None:
            self.ready_activities.add(activity_id)
            self._work_added = True

    def _drop_activity(self, act: Activity) -> None:
        """Forget a scheduled activity, ending its lease if one is held."""
        del self.activities[act.activity_id]
        self.ready_activities.discard(act.activity_id)
        self.leases.delivered("activity", act.activity_id)
        lease = self.leases.holder("activity", act.activity_id)
        if lease is not None:
            self.leases.drop(lease)
            self._work_added = True  # the stream has room again
        self._store.delete_activity(act.activity_id)

    # -- entities --------------------------------------------------------------------------

    def _entity(self, entity_id: str) -> Entity:
        """The entity, created (and stored) if it does not exist yet."""
        entity = self.entities.get(entity_id)
        if entity is None:
            entity = self.entities[entity_id] = Entity(entity_id)
            self._store.save_entity(entity)
        return entity

    def _deliver_entity(self, entity_id: str, event: HistoryEvent) -> None:
        """Append ``event`` to the entity's inbox, creating the entity if needed."""
        entity = self._entity(entity_id)
        rowid = self._store.add_message("e", entity_id, event)
        entity.inbox.append(Message(rowid, event))
        self._mark_entity(entity_id)

    def _runnable_ops(self, entity: Entity) -> list[Message]:
        """Inbox operations the entity may run now (only the lock owner's calls if locked)."""
        if entity.lock_owner is None:
            return list(entity.inbox)
        return [
            m for m in entity.inbox
            if m.event.HasField("entityOperationCalled")
            and m.event.entityOperationCalled.parentInstanceId.value == entity.lock_owner
        ]

    def _mark_entity(self, entity_id: str) -> None:
        """Queue the entity for dispatch if it has runnable operations and is not leased."""
        entity = self.entities.get(entity_id)
        if entity is None or self.leases.holder("entity", entity_id) is not None:
            return
        if self._runnable_ops(entity):
            self.ready_entities.add(entity_id)
            self._work_added = True

    # -- delayed messages ------------------------------------------------------------------

    def _schedule(self, fire_at: float, kind: str, target: str, execution_id: str | None,
                  event: HistoryEvent) -> None:
        """Store ``event`` for delivery to ``target`` at ``fire_at`` (epoch seconds)."""
        rowid = self._store.add_delayed(fire_at, kind, target, execution_id, event)
        self.delayed[rowid] = Delayed(rowid, fire_at, kind, target, execution_id, event)
        heapq.heappush(self._delayed_heap, (fire_at, rowid))
        self._timer_added = True

    def _fire_due(self, now: float) -> None:
        """Deliver every delayed message whose time has come (one transaction, committed
        before returning)."""
        if self._store.broken:
            self._reload()
        due: list[Delayed] = []
        while self._delayed_heap and self._delayed_heap[0][0] <= now:
            _, rowid = heapq.heappop(self._delayed_heap)
            item = self.delayed.pop(rowid, None)
            if item is not None:
                due.append(item)
        if not due:
            return
        with self._tx():
            for item in due:
                self._store.delete_delayed(item.rowid)
                if item.kind == "e":
                    self._deliver_entity(item.target, item.event)
                    continue
                inst = self.instances.get(item.target)
                if inst is not None and inst.execution_id == item.execution_id:
                    self._deliver(item.target, item.event)
        self._store.flush()
        if self._store.broken:
            self._reload()

    def _next_timer(self) -> float | None:
        """Epoch time of the earliest pending delayed message."""
        while self._delayed_heap and self._delayed_heap[0][1] not in self.delayed:
            heapq.heappop(self._delayed_heap)
        return self._delayed_heap[0][0] if self._delayed_heap else None

    def _cancel_delayed(self, kind: str, target: str) -> None:
        """Drop every delayed message for ``target``."""
        for rowid in [r for r, d in self.delayed.items() if d.kind == kind and d.target == target]:
            del self.delayed[rowid]
            self._store.delete_delayed(rowid)

    # -- waiting for state changes ---------------------------------------------------------

    def _seen(self, instance_id: str, *, custom: bool) -> Seen:
        """What a waiter waits to change: the status (None: no such instance), and with
        ``custom`` the custom status too."""
        inst = self.instances.get(instance_id)
        status = None if inst is None else inst.status
        if not custom:
            return (status,)
        return (status, None if inst is None else inst.custom_status)

    def watch(self, instance_id: str, seen: Seen, waker: Waker) -> bool:
        """Call ``waker.set()`` once the instance durably differs from ``seen``: ``(status,)``
        or ``(status, custom_status)`` (status None: no such instance). False, and no call,
        if it differs already."""
        with self._lock:
            if self._seen(instance_id, custom=len(seen) > 1) != seen or self.closed:
                return False
            self._waiters.setdefault(instance_id, []).append((waker, seen))
            return True

    def unwatch(self, instance_id: str, waker: Waker) -> None:
        """Forget a `watch` that was not woken (its waiter gave up)."""
        with self._lock:
            waiters = [(w, s) for w, s in self._waiters.get(instance_id, []) if w is not waker]
            if waiters:
                self._waiters[instance_id] = waiters
            else:
                self._waiters.pop(instance_id, None)

    def wait_for(self, instance_id: str, predicate: Callable[[Instance], bool],
                 timeout: float | None, is_active: Callable[[], bool]) -> Instance | None:
        """Block until the instance satisfies ``predicate``; None on timeout or cancellation.

        ``predicate`` may look at the instance's status only: a waiter is woken when the
        status changes durably (or the instance appears or goes), not on every step.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                inst = self.lookup(instance_id)
                if inst is not None and predicate(inst):
                    return inst
                remaining = 5.0 if deadline is None else min(5.0, deadline - time.monotonic())
                if remaining <= 0 or self.closed:
                    return None
                event = threading.Event()
                seen = self._seen(instance_id, custom=False)
                self._waiters.setdefault(instance_id, []).append((event, seen))
            if not event.wait(remaining):
                self.unwatch(instance_id, event)
            if not is_active():
                return None
