"""Durable entities: signals, operation batches, results to callers, and locks."""

from __future__ import annotations

import time
import uuid
from typing import Any

from durable_workflows.sidecar.core import Core, log
from durable_workflows.sidecar.model import (
    HistoryEvent,
    LockRequest,
    new_event,
    optional_field,
    optional_str,
    optional_time,
    pb,
    string_value,
)


class EntityEngine(Core):
    """Entity behaviour on top of `Core`."""

    def signal_entity(self, entity_id: str, name: str, input: Any, request_id: str,
                      scheduled_at: float | None) -> None:
        """Queue a one-way operation for an entity (from a client)."""
        event = new_event(entityOperationSignaled=pb.EntityOperationSignaledEvent(
            requestId=request_id or uuid.uuid4().hex, operation=name, input=input,
            targetInstanceId=string_value(entity_id),
        ))
        with self._lock, self._tx():
            self._send_entity_op(entity_id, event, scheduled_at)

    def _send_entity_op(self, entity_id: str, event: HistoryEvent,
                        scheduled_at: float | None) -> None:
        if scheduled_at is not None and scheduled_at > self.clock.time():
            self._schedule(scheduled_at, "e", entity_id, None, event)
        else:
            self._deliver_entity(entity_id, event)

    def complete_entity(self, result: Any) -> bool:
        """Apply a finished entity batch; False when its lease is no longer valid."""
        with self._lock:
            lease = self.leases.get(result.completionToken)
            if lease is None or lease.kind != "entity":
                log.info("ignoring stale entity completion %s", result.completionToken)
                return False
            with self._tx():
                entity = self._entity(str(lease.key))
                self.leases.drop(lease)
                self._work_added = True  # the stream has room again
                done = set(lease.rowids)
                entity.inbox = [m for m in entity.inbox if m.rowid not in done]
                self._store.delete_messages(lease.rowids)
                batch_failure = optional_field(result, "failureDetails")
                if batch_failure is None:
                    entity.state = optional_str(result, "entityState")
                entity.updated_at = time.time()
                for i, info in enumerate(result.operationInfos):
                    caller = info.responseDestination.instanceId
                    if caller:
                        outcome = result.results[i] if i < len(result.results) else None
                        self._deliver(caller, _result_event(info.requestId, outcome, batch_failure))
                if batch_failure is None:
                    for action in result.actions:
                        self._apply_entity_action(action)
                self._save_or_forget(entity.entity_id)
                self._mark_entity(entity.entity_id)
                if self.lock_requests:
                    self._grant_locks()
            return True

    def clean_storage(self, remove_empty: bool, release_orphaned_locks: bool) -> tuple[int, int]:
        """Drop stateless idle entities and locks whose owner is gone; returns both counts."""
        removed = released = 0
        with self._lock, self._tx():
            if release_orphaned_locks:
                for entity in list(self.entities.values()):
                    owner = self.instances.get(entity.lock_owner or "")
                    if entity.lock_owner is not None and (owner is None or owner.terminal):
                        self._unlock(entity.entity_id, entity.locked_by or "")
                        released += 1
            if remove_empty:
                for entity_id in list(self.entities):
                    self._save_or_forget(entity_id)
                    removed += entity_id not in self.entities
        return removed, released

    def _apply_entity_action(self, action: Any) -> None:
        if action.HasField("sendSignal"):
            sig = action.sendSignal
            event = new_event(entityOperationSignaled=pb.EntityOperationSignaledEvent(
                requestId=uuid.uuid4().hex, operation=sig.name,
                input=optional_field(sig, "input"),
                targetInstanceId=string_value(sig.instanceId),
            ))
            self._send_entity_op(sig.instanceId, event, optional_time(sig, "scheduledTime"))
        elif action.HasField("startNewOrchestration"):
            start = action.startNewOrchestration
            instance_id = start.instanceId or uuid.uuid4().hex
            existing = self.lookup(instance_id)
            if existing is not None and not existing.terminal:
                log.warning("entity tried to start existing instance %s", instance_id)
                return
            if existing is not None:
                self._purge(instance_id)
            self._new_instance(instance_id, start.name, optional_str(start, "input"),
                               optional_str(start, "version"), dict(start.tags), None,
                               optional_time(start, "scheduledTime"))

    def _save_or_forget(self, entity_id: str) -> None:
        """Persist the entity, or delete it when it holds nothing (no state, ops or lock)."""
        entity = self.entities[entity_id]
        empty = (entity.state is None and not entity.inbox and entity.lock_owner is None
                 and self.leases.holder("entity", entity_id) is None
                 and not any(d.kind == "e" and d.target == entity_id
                             for d in self.delayed.values()))
        if empty:
            del self.entities[entity_id]
            self.ready_entities.discard(entity_id)
            self._store.delete_entity(entity_id)
        else:
            self._store.save_entity(entity)

    # -- locks -----------------------------------------------------------------------------

    def _request_lock(self, critical_section_id: str, owner: str, lock_set: list[str]) -> None:
        barrier = max((m.rowid for e in lock_set if e in self.entities
                       for m in self.entities[e].inbox), default=0)
        rowid = self._store.add_lock_request(critical_section_id, owner, lock_set, barrier)
        self.lock_requests.append(
            LockRequest(rowid, critical_section_id, owner, lock_set, barrier))
        self._grant_locks()

    def _lockable(self, entity_id: str, barrier: int) -> bool:
        """Free, and done with every operation queued before the lock request."""
        entity = self.entities.get(entity_id)
        return entity is None or (
            entity.lock_owner is None
            and not any(m.rowid <= barrier for m in entity.inbox))

    def _grant_locks(self) -> None:
        """Grant waiting lock requests, oldest first, whose entities are all available."""
        waiting: list[LockRequest] = []
        for req in self.lock_requests:
            if not all(self._lockable(e, req.barrier) for e in req.lock_set):
                waiting.append(req)
                continue
            self._store.delete_lock_request(req.rowid)
            for entity_id in req.lock_set:
                entity = self._entity(entity_id)
                entity.locked_by, entity.lock_owner = req.critical_section_id, req.owner
                self._store.save_entity(entity)
            self._deliver(req.owner, new_event(entityLockGranted=pb.EntityLockGrantedEvent(
                criticalSectionId=req.critical_section_id)))
        self.lock_requests = waiting

    def _unlock(self, entity_id: str, critical_section_id: str) -> None:
        entity = self.entities.get(entity_id)
        if entity is not None and entity.locked_by == critical_section_id:
            entity.locked_by = entity.lock_owner = None
            self._save_or_forget(entity_id)
            self._mark_entity(entity_id)
        self._grant_locks()

    def _release_locks_of(self, owner: str) -> None:
        """Drop every lock held or requested by a finished orchestration."""
        for req in [r for r in self.lock_requests if r.owner == owner]:
            self.lock_requests.remove(req)
            self._store.delete_lock_request(req.rowid)
        for entity in [e for e in self.entities.values() if e.lock_owner == owner]:
            self._unlock(entity.entity_id, entity.locked_by or "")
        self._grant_locks()


def _result_event(request_id: str, outcome: Any, batch_failure: Any) -> HistoryEvent:
    if batch_failure is None and outcome is not None and outcome.HasField("success"):
        return new_event(entityOperationCompleted=pb.EntityOperationCompletedEvent(
            requestId=request_id,
            output=optional_field(outcome.success, "result"),
        ))
    failure = batch_failure
    if failure is None:
        failure = (outcome.failure.failureDetails if outcome is not None
                   and outcome.HasField("failure") else pb.TaskFailureDetails(
                       errorType="EntityOperationError", errorMessage="operation had no result"))
    return new_event(entityOperationFailed=pb.EntityOperationFailedEvent(
        requestId=request_id, failureDetails=failure))
