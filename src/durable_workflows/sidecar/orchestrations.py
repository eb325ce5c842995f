"""Orchestration lifecycle: start, events, control operations, and applying worker results."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable
from typing import Any

from durable_workflows.sidecar.core import log
from durable_workflows.sidecar.entities import EntityEngine
from durable_workflows.sidecar.errors import (
    InstanceExistsError,
    InstanceNotFoundError,
    InstanceStateError,
)
from durable_workflows.sidecar.leases import Lease
from durable_workflows.sidecar.model import (
    COMPLETED,
    CONTINUED_AS_NEW,
    FAILED,
    PENDING,
    RUNNING,
    SUSPENDED,
    TERMINATED,
    Activity,
    HistoryEvent,
    Instance,
    ParentRef,
    failure_details,
    new_event,
    optional_field,
    optional_str,
    optional_time,
    orchestrator_started,
    pb,
    string_value,
)

_CARRIED_OVER = frozenset(
    {"eventRaised", "executionSuspended", "executionResumed", "executionTerminated"})
"""Inbox events that survive continue-as-new: those addressed to the instance, not to one
execution. Timer, activity, sub-orchestration and entity results of the old execution are
dropped: durabletask matches them by task id, and ids restart with every execution."""


class Engine(EntityEngine):
    """Orchestration behaviour on top of `EntityEngine`."""

    # -- client operations -----------------------------------------------------------------

    def start_instance(self, instance_id: str, name: str, input: str | None,
                       version: str | None, tags: dict[str, str], start_at: float | None,
                       replaceable: Iterable[int]) -> str:
        """Create a new instance; an existing one is replaced only if its status allows."""
        with self._lock:
            existing = self.lookup(instance_id)
            if existing is not None and existing.status not in set(replaceable):
                raise InstanceExistsError(f"orchestration instance {instance_id!r} already exists")
            with self._tx():
                if existing is not None:
                    self._terminate_now(existing, None, "replaced by a new instance")
                    self._purge(instance_id)
                self._new_instance(instance_id, name, input, version, tags, None, start_at)
        return instance_id

    def raise_event(self, instance_id: str, name: str, input: Any) -> None:
        """Deliver an external event (dropped if the instance already finished)."""
        with self._lock:
            self._require(instance_id)
            with self._tx():
                self._deliver(instance_id, new_event(
                    eventRaised=pb.EventRaisedEvent(name=name, input=input)))

    def terminate(self, instance_id: str, output: str | None, recursive: bool) -> None:
        """Terminate an instance (and, if ``recursive``, its running sub-orchestrations)."""
        with self._lock:
            self._require(instance_id)
            with self._tx():
                self._terminate(instance_id, output, recursive)

    def suspend(self, instance_id: str, reason: str | None) -> None:
        """Suspend a running instance; events received meanwhile wait for resume."""
        with self._lock:
            inst = self._require(instance_id)
            if inst.status != SUSPENDED:
                with self._tx():
                    self._deliver(instance_id, new_event(executionSuspended=(
                        pb.ExecutionSuspendedEvent(input=string_value(reason)))))

    def resume(self, instance_id: str, reason: str | None) -> None:
        """Resume a suspended instance."""
        with self._lock:
            self._require(instance_id)
            with self._tx():
                self._deliver(instance_id, new_event(executionResumed=(
                    pb.ExecutionResumedEvent(input=string_value(reason)))))

    def purge(self, instance_ids: Iterable[str], recursive: bool) -> int:
        """Delete finished instances (running ones are skipped); returns how many."""
        with self._lock, self._tx():
            count = 0
            for instance_id in list(instance_ids):
                inst = self.lookup(instance_id)
                if inst is None or not inst.terminal:
                    continue
                if recursive:
                    count += self._purge_children(instance_id)
                self._purge(instance_id)
                count += 1
            if count:
                self._store.request_reclaim()
            return count

    def _purge_children(self, instance_id: str) -> int:
        """Purge the finished sub-orchestrations of an instance, recursively."""
        count = 0
        for child_id in self._store.finished_children(instance_id):
            count += self._purge_children(child_id) + 1
            self._purge(child_id)
        return count

    def _children(self, instance_id: str) -> list[Instance]:
        """The unfinished sub-orchestrations started by an instance."""
        return [inst for inst in self.instances.values()
                if inst.parent is not None and inst.parent.instance_id == instance_id]

    def restart(self, instance_id: str, new_instance_id: bool) -> str:
        """Start a finished instance again with its original name and input."""
        with self._lock:
            inst = self._require(instance_id)
            if not inst.terminal:
                raise InstanceStateError(f"orchestration instance {instance_id!r} is not finished")
            target = uuid.uuid4().hex if new_instance_id else instance_id
            with self._tx():
                if target == instance_id:
                    self._purge(instance_id)
                self._new_instance(target, inst.name, inst.input, inst.version, inst.tags, None)
            return target

    def rewind(self, instance_id: str, reason: str | None) -> None:
        """Replay a failed instance, retrying its failed work."""
        with self._lock:
            inst = self._require(instance_id)
            if inst.status != FAILED:
                raise InstanceStateError(f"orchestration instance {instance_id!r} has not failed")
            with self._tx():
                self._prepare_rewind(inst, reason)

    # -- worker results --------------------------------------------------------------------

    def complete_orchestration(self, res: Any) -> bool:
        """Apply an orchestrator step; False when its lease is no longer valid."""
        with self._lock:
            lease = self.leases.get(res.completionToken)
            if lease is None or lease.kind != "orchestration" or lease.key != res.instanceId:
                log.info("ignoring stale orchestration completion for %s", res.instanceId)
                self.leases.delivered("orchestration", res.instanceId)  # it was receivable
                return False
            inst = self.instances.get(res.instanceId)
            if inst is None:
                self.leases.drop(lease)
                return False
            try:
                self._apply_completion(inst, lease, res)
            except sqlite3.Error:
                raise
            except Exception as exc:  # a step the engine cannot apply must not loop forever
                log.exception("cannot apply orchestrator step of %s", res.instanceId)
                self._fail_instance(res.instanceId, exc)
            return True

    def _fail_instance(self, instance_id: str, exc: Exception) -> None:
        with self._tx():
            self._fail_with(instance_id, failure_details(
                type(exc).__name__, f"the sidecar could not apply an orchestrator step: {exc}"))

    def _fail_with(self, instance_id: str, details: Any) -> None:
        """Fail a running instance without a worker (its work item cannot be processed)."""
        inst = self.instances.get(instance_id)
        if inst is None or inst.terminal:
            return
        inst.status = FAILED
        inst.failure = details
        self._finish(inst)

    def _fail_activity(self, act: Activity, details: Any) -> None:
        """Fail a scheduled activity without a worker: its task fails with ``details``."""
        self._drop_activity(act)
        inst = self.instances.get(act.instance_id)
        if inst is not None and inst.execution_id == act.execution_id:
            self._deliver(act.instance_id, new_event(taskFailed=pb.TaskFailedEvent(
                taskScheduledId=act.task_id, failureDetails=details)))

    def _apply_completion(self, inst: Instance, lease: Lease, res: Any) -> None:
        """Apply a validated orchestrator step in one transaction."""
        with self._tx():
            self.leases.drop(lease)
            self.leases.delivered("orchestration", inst.instance_id)
            self._work_added = True  # the stream has room again
            consumed = set(lease.rowids)
            events = lease.extra + [m.event for m in inst.inbox if m.rowid in consumed]
            inst.inbox = [m for m in inst.inbox if m.rowid not in consumed]
            self._store.delete_messages(lease.rowids)
            projected = inst.history_len + len(events) + len(res.actions) + 2
            finishing = any(a.HasField("completeOrchestration") for a in res.actions)
            if projected > self.max_history and not finishing:
                inst.status = FAILED
                inst.failure = failure_details(
                    "HistoryLimitExceeded",
                    f"orchestration {inst.instance_id!r} would have {projected} history "
                    f"events, more than the limit of {self.max_history}; use "
                    f"continue_as_new or sub-orchestrations to keep histories short")
                self._finish(inst)
            else:
                self._append_history(inst, events)
                self._apply_step(inst, res, events)
            self._mark_orchestration(inst.instance_id)

    def complete_activity(self, res: Any) -> bool:
        """Record an activity result; False for a duplicate or stale completion."""
        with self._lock:
            activity_id = int(res.completionToken) if res.completionToken.isdigit() else -1
            act = self.activities.get(activity_id)
            if act is None or (act.instance_id, act.task_id) != (res.instanceId, res.taskId):
                log.info("ignoring stale activity completion %s", res.completionToken)
                return False
            with self._tx():
                self._drop_activity(act)
                inst = self.instances.get(act.instance_id)
                if inst is not None and inst.execution_id == act.execution_id:
                    if res.HasField("failureDetails"):
                        event = new_event(taskFailed=pb.TaskFailedEvent(
                            taskScheduledId=act.task_id, failureDetails=res.failureDetails))
                    else:
                        event = new_event(taskCompleted=pb.TaskCompletedEvent(
                            taskScheduledId=act.task_id, result=optional_field(res, "result")))
                    self._deliver(act.instance_id, event)
            return True

    def abandon(self, token: str, retry_after: float = 1.0) -> None:
        """A worker gave a work item back: redeliver it after ``retry_after`` seconds."""
        with self._lock:
            lease = self.leases.get(token)
            if lease is not None:  # counted as a failed delivery when it expires
                self.leases.expire_in(lease, retry_after)
                self._timer_added = True
                self._notify()

    # -- internals -------------------------------------------------------------------------

    def _require(self, instance_id: str) -> Instance:
        inst = self.lookup(instance_id)
        if inst is None:
            raise InstanceNotFoundError(f"orchestration instance {instance_id!r} not found")
        return inst

    def _apply_step(self, inst: Instance, res: Any, events: list[HistoryEvent]) -> None:
        if res.HasField("customStatus"):
            inst.custom_status = res.customStatus.value
        if inst.status == PENDING:
            inst.status = RUNNING
        for event in events:
            if event.HasField("executionSuspended"):
                inst.status = SUSPENDED
            elif event.HasField("executionResumed"):
                inst.status = RUNNING
        added: list[HistoryEvent] = []
        complete = None
        for action in res.actions:
            kind = action.WhichOneof("orchestratorActionType")
            if kind == "completeOrchestration":
                complete = action.completeOrchestration
            elif kind == "rewindOrchestration":
                self._apply_rewind(inst, action.rewindOrchestration)
                return
            elif kind is not None:
                added.extend(self._apply_action(inst, action, kind))
        self._append_history(inst, added)
        if complete is not None and complete.orchestrationStatus == CONTINUED_AS_NEW:
            self._continue_as_new(inst, complete)
            return
        done: list[HistoryEvent] = [new_event(
            orchestratorCompleted=pb.OrchestratorCompletedEvent())]
        if complete is not None:
            inst.status = complete.orchestrationStatus
            inst.output = optional_str(complete, "result")
            inst.failure = optional_field(complete, "failureDetails")
            done.append(new_event(executionCompleted=pb.ExecutionCompletedEvent(
                orchestrationStatus=inst.status, result=string_value(inst.output),
                failureDetails=inst.failure)))
        self._append_history(inst, done)
        if inst.terminal:
            self._finish(inst)
        else:
            self._save(inst)

    def _apply_action(self, inst: Instance, action: Any, kind: str) -> list[HistoryEvent]:
        """Carry out one orchestrator action; returns the history events it adds."""
        aid = action.id
        if kind == "scheduleTask":
            task = action.scheduleTask
            version, input_ = optional_str(task, "version"), optional_str(task, "input")
            activity_id = self._store.add_activity(inst.instance_id, inst.execution_id,
                                                   task.name, aid, input_, version,
                                                   dict(task.tags))
            self.activities[activity_id] = Activity(activity_id, inst.instance_id,
                                                    inst.execution_id, task.name, aid, input_,
                                                    version, dict(task.tags))
            self._mark_activity(activity_id)
            return [_with_id(aid, taskScheduled=pb.TaskScheduledEvent(
                name=task.name, version=optional_field(task, "version"),
                input=optional_field(task, "input"), tags=task.tags,
                parentTraceContext=optional_field(task, "parentTraceContext")))]
        if kind == "createTimer":
            fire_at = action.createTimer.fireAt
            self._schedule(fire_at.ToNanoseconds() / 1e9, "o", inst.instance_id,
                           inst.execution_id, new_event(timerFired=pb.TimerFiredEvent(
                               fireAt=fire_at, timerId=aid)))
            return [_with_id(aid, timerCreated=pb.TimerCreatedEvent(fireAt=fire_at))]
        if kind == "createSubOrchestration":
            return [self._start_child(inst, aid, action.createSubOrchestration)]
        if kind == "sendEvent":
            send = action.sendEvent
            self._deliver(send.instance.instanceId, new_event(eventRaised=pb.EventRaisedEvent(
                name=send.name, input=optional_field(send, "data"))))
            return [_with_id(aid, eventSent=pb.EventSentEvent(
                instanceId=send.instance.instanceId, name=send.name,
                input=optional_field(send, "data")))]
        if kind == "sendEntityMessage":
            return [self._send_entity_message(inst, aid, action.sendEntityMessage)]
        if kind == "terminateOrchestration":
            term = action.terminateOrchestration
            if self.lookup(term.instanceId) is not None:
                self._terminate(term.instanceId, optional_str(term, "reason"), term.recurse)
            return []
        log.warning("ignoring unsupported orchestrator action %s", kind)
        return []

    def _start_child(self, inst: Instance, aid: int, sub: Any) -> HistoryEvent:
        child_id = sub.instanceId or uuid.uuid4().hex
        created = _with_id(aid, subOrchestrationInstanceCreated=(
            pb.SubOrchestrationInstanceCreatedEvent(
                instanceId=child_id, name=sub.name,
                version=optional_field(sub, "version"),
                input=optional_field(sub, "input"), tags=sub.tags)))
        existing = self.lookup(child_id)
        if existing is not None and not existing.terminal:
            self._deliver(inst.instance_id, new_event(subOrchestrationInstanceFailed=(
                pb.SubOrchestrationInstanceFailedEvent(
                    taskScheduledId=aid, failureDetails=failure_details(
                        "InstanceExists", f"orchestration instance {child_id!r} already exists"
                    )))))
            return created
        if existing is not None:
            self._purge(child_id)
        self._new_instance(child_id, sub.name, optional_str(sub, "input"),
                           optional_str(sub, "version"), dict(sub.tags),
                           ParentRef(inst.instance_id, inst.execution_id, aid))
        return created

    def _send_entity_message(self, inst: Instance, aid: int, msg: Any) -> HistoryEvent:
        kind = msg.WhichOneof("EntityMessageType")
        body = getattr(msg, kind)
        if kind == "entityOperationSignaled":
            self._send_entity_op(body.targetInstanceId.value,
                                 new_event(entityOperationSignaled=body),
                                 optional_time(body, "scheduledTime"))
        elif kind == "entityOperationCalled":
            self._deliver_entity(body.targetInstanceId.value,
                                 new_event(entityOperationCalled=body))
        elif kind == "entityLockRequested":
            self._request_lock(body.criticalSectionId, inst.instance_id, list(body.lockSet))
        elif kind == "entityUnlockSent":
            self._unlock(body.targetInstanceId.value, body.criticalSectionId)
        return _with_id(aid, **{kind: body})

    def _continue_as_new(self, inst: Instance, complete: Any) -> None:
        self._cancel_execution_work(inst)
        inst.input = optional_str(complete, "result")
        inst.version = optional_str(complete, "newVersion") or inst.version
        inst.execution_id = uuid.uuid4().hex
        inst.status, inst.output, inst.failure, inst.completed_at = PENDING, None, None, None
        inst.history, inst.history_len = [], 0
        self._store.replace_history(inst.instance_id, [])
        carried = [e for e in [*complete.carryoverEvents, *(m.event for m in inst.inbox)]
                   if e.WhichOneof("eventType") in _CARRIED_OVER]
        self._store.delete_messages([m.rowid for m in inst.inbox])
        inst.inbox = []
        self._save(inst)
        self._queue_start(inst, None, carried)

    def _cancel_execution_work(self, inst: Instance) -> None:
        """Forget timers and activities of the instance's current execution."""
        self._cancel_delayed("o", inst.instance_id)
        for act in [a for a in self.activities.values() if a.instance_id == inst.instance_id]:
            self._drop_activity(act)

    def _finish(self, inst: Instance) -> None:
        """Bookkeeping for an instance that just reached a terminal status."""
        inst.completed_at = time.time()
        self.leases.delivered("orchestration", inst.instance_id)
        self._cancel_execution_work(inst)
        self._store.delete_messages([m.rowid for m in inst.inbox])
        inst.inbox = []
        inst.history = None
        self.ready_orchestrations.discard(inst.instance_id)
        self._save(inst)
        self._evict(inst)
        self._release_locks_of(inst.instance_id)
        parent = inst.parent
        if parent is None:
            return
        target = self.instances.get(parent.instance_id)
        if target is None or target.execution_id != parent.execution_id:
            return
        if inst.status == COMPLETED:
            event = new_event(subOrchestrationInstanceCompleted=(
                pb.SubOrchestrationInstanceCompletedEvent(
                    taskScheduledId=parent.task_id, result=string_value(inst.output))))
        else:
            failure = inst.failure or failure_details(
                "OrchestrationTerminated", f"sub-orchestration {inst.instance_id!r} was terminated")
            event = new_event(subOrchestrationInstanceFailed=(
                pb.SubOrchestrationInstanceFailedEvent(
                    taskScheduledId=parent.task_id, failureDetails=failure)))
        self._deliver(parent.instance_id, event)

    def _terminate(self, instance_id: str, output: str | None, recursive: bool) -> None:
        inst = self.lookup(instance_id)
        assert inst is not None, instance_id
        if recursive:
            for child in self._children(instance_id):
                if not child.terminal:
                    self._terminate(child.instance_id, output, True)
        if inst.terminal:
            return
        if inst.history_len == 0 and self.leases.holder("orchestration", instance_id) is None:
            self._terminate_now(inst, output, None)
            return
        self._deliver(instance_id, new_event(executionTerminated=pb.ExecutionTerminatedEvent(
            input=string_value(output), recurse=recursive)))

    def _terminate_now(self, inst: Instance, output: str | None, reason: str | None) -> None:
        """Terminate without involving a worker (the instance never ran, or is replaced)."""
        if inst.terminal:
            return
        inst.status, inst.output = TERMINATED, output
        if reason is not None:
            inst.failure = failure_details("Terminated", reason)
        self._finish(inst)

    def _prepare_rewind(self, inst: Instance, reason: str | None) -> None:
        if inst.history is None:
            inst.history = self._store.load_history(inst.instance_id)
        self._revive(inst)
        inst.status, inst.output, inst.failure, inst.completed_at = RUNNING, None, None, None
        self._save(inst)
        self._deliver(inst.instance_id, new_event(
            executionRewound=pb.ExecutionRewoundEvent(reason=string_value(reason))))

    def _apply_rewind(self, inst: Instance, action: Any) -> None:
        """Install the history rewritten by the worker and retry failed sub-orchestrations."""
        history = list(action.newHistory)
        inst.history, inst.history_len = history, len(history)
        self._store.replace_history(inst.instance_id, history)
        inst.status, inst.output, inst.failure = RUNNING, None, None
        finished = {e.subOrchestrationInstanceCompleted.taskScheduledId for e in history
                    if e.HasField("subOrchestrationInstanceCompleted")}
        reason = next((e.executionRewound.reason.value for e in reversed(history)
                       if e.HasField("executionRewound")), None)
        for event in history:
            if not event.HasField("subOrchestrationInstanceCreated"):
                continue
            if event.eventId in finished:
                continue
            sub = event.subOrchestrationInstanceCreated
            child = self.lookup(sub.instanceId)
            if child is None:
                self._new_instance(sub.instanceId, sub.name, optional_str(sub, "input"),
                                   optional_str(sub, "version"), dict(sub.tags),
                                   ParentRef(inst.instance_id, inst.execution_id, event.eventId))
            elif child.status == FAILED:
                self._prepare_rewind(child, reason)
        self._save(inst)
        self._deliver(inst.instance_id, orchestrator_started(self.clock.time()))


def _with_id(event_id: int, **kwargs: Any) -> HistoryEvent:
    event = new_event(**kwargs)
    event.eventId = event_id
    return event
