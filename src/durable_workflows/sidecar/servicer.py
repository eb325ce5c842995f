"""The ``TaskHubSidecarService`` gRPC servicer: translates requests into engine calls."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from google.protobuf import empty_pb2, wrappers_pb2

from durable_workflows.sidecar import queries
from durable_workflows.sidecar.core import log
from durable_workflows.sidecar.dispatch import Dispatcher
from durable_workflows.sidecar.errors import (
    InstanceExistsError,
    InstanceNotFoundError,
    InstanceStateError,
)
from durable_workflows.sidecar.model import (
    PENDING,
    Instance,
    optional_field,
    optional_str,
    optional_time,
    pb,
)
from durable_workflows.sidecar.writer import TransactionFailedError

F = TypeVar("F", bound=Callable[..., Any])
_HISTORY_CHUNK = 200
_READ_ATTEMPTS = 3

_ERROR_CODES: dict[type[Exception], grpc.StatusCode] = {
    InstanceNotFoundError: grpc.StatusCode.NOT_FOUND,
    InstanceExistsError: grpc.StatusCode.ALREADY_EXISTS,
    InstanceStateError: grpc.StatusCode.FAILED_PRECONDITION,
    TransactionFailedError: grpc.StatusCode.UNAVAILABLE,
}


def _rpc(method: F) -> F:
    """Answer only once the state the answer reflects is durable; map engine errors."""

    @functools.wraps(method)
    def wrapper(self: Servicer, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            response = method(self, request, context)
            self.engine.sync()
        except tuple(_ERROR_CODES) as exc:
            context.abort(_ERROR_CODES[type(exc)], str(exc))
        return response

    return wrapper  # type: ignore[return-value]


def _read(method: F) -> F:
    """Answer reads from durable state: if a pending change fails, read again."""

    @functools.wraps(method)
    def wrapper(self: Servicer, request: Any, context: grpc.ServicerContext) -> Any:
        for _ in range(_READ_ATTEMPTS - 1):
            response = method(self, request, context)
            try:
                self.engine.sync()
            except TransactionFailedError:
                continue
            return response
        return _rpc(method)(self, request, context)

    return wrapper  # type: ignore[return-value]


class Servicer(stubs.TaskHubSidecarServiceServicer):
    """gRPC front end of a `Dispatcher`."""

    def __init__(self, engine: Dispatcher) -> None:
        self.engine = engine

    def Hello(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Connection check."""
        return empty_pb2.Empty()

    # -- orchestration client ----------------------------------------------------------------

    @_rpc
    def StartInstance(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Create an orchestration instance."""
        replaceable = list(request.orchestrationIdReusePolicy.replaceableStatus) \
            if request.HasField("orchestrationIdReusePolicy") else []
        instance_id = self.engine.start_instance(
            request.instanceId or uuid.uuid4().hex, request.name,
            optional_str(request, "input"), optional_str(request, "version"),
            dict(request.tags), optional_time(request, "scheduledStartTimestamp"), replaceable)
        return pb.CreateInstanceResponse(instanceId=instance_id)

    @_read
    def GetInstance(self, request: Any, context: grpc.ServicerContext) -> Any:
        """The instance's current state."""
        with self.engine.lock:
            inst = self.engine.lookup(request.instanceId)
            return self._instance_response(inst, request.getInputsAndOutputs)

    @_read
    def WaitForInstanceStart(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Long-poll until the instance leaves PENDING."""
        return self._wait(request, context, lambda i: i.status != PENDING, "start")

    @_read
    def WaitForInstanceCompletion(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Long-poll until the instance finishes."""
        return self._wait(request, context, lambda i: i.terminal, "complete")

    def _wait(self, request: Any, context: grpc.ServicerContext,
              predicate: Callable[[Instance], bool], what: str) -> Any:
        inst = self.engine.wait_for(request.instanceId, predicate, context.time_remaining(),
                                    context.is_active)
        with self.engine.lock:
            if inst is None:
                inst = self.engine.lookup(request.instanceId)
                if inst is not None and not predicate(inst):
                    context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                  f"timed out waiting for {request.instanceId!r} to {what}")
            return self._instance_response(inst, request.getInputsAndOutputs)

    @staticmethod
    def _instance_response(inst: Instance | None, include_payloads: bool) -> Any:
        if inst is None:
            return pb.GetInstanceResponse(exists=False)
        return pb.GetInstanceResponse(
            exists=True, orchestrationState=queries.instance_state(inst, include_payloads))

    @_rpc
    def RaiseEvent(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Deliver an external event."""
        self.engine.raise_event(request.instanceId, request.name,
                                optional_field(request, "input"))
        return pb.RaiseEventResponse()

    @_rpc
    def TerminateInstance(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Terminate an instance."""
        self.engine.terminate(request.instanceId, optional_str(request, "output"),
                              request.recursive)
        return pb.TerminateResponse()

    @_rpc
    def SuspendInstance(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Suspend an instance."""
        self.engine.suspend(request.instanceId, optional_str(request, "reason"))
        return pb.SuspendResponse()

    @_rpc
    def ResumeInstance(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Resume a suspended instance."""
        self.engine.resume(request.instanceId, optional_str(request, "reason"))
        return pb.ResumeResponse()

    @_rpc
    def RestartInstance(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Start a finished instance again."""
        new_id = self.engine.restart(request.instanceId, request.restartWithNewInstanceId)
        return pb.RestartInstanceResponse(instanceId=new_id)

    @_rpc
    def RewindInstance(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Retry a failed instance's failed work."""
        self.engine.rewind(request.instanceId, optional_str(request, "reason"))
        return pb.RewindInstanceResponse()

    @_rpc
    def PurgeInstances(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Delete finished instances by id, batch or filter."""
        with self.engine.lock:
            targets = queries.purge_targets(self.engine, request)
        count = self.engine.purge(targets, request.recursive)
        return pb.PurgeInstancesResponse(
            deletedInstanceCount=count, isComplete=wrappers_pb2.BoolValue(value=True))

    @_read
    def QueryInstances(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Instances matching a query, paged."""
        with self.engine.lock:
            return queries.query_instances(self.engine, request.query)

    @_read
    def ListInstanceIds(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Ids of finished instances, paged by completion time."""
        with self.engine.lock:
            return queries.list_instance_ids(self.engine, request)

    def StreamInstanceHistory(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        """The instance's history, in chunks."""
        history = self._durable_history(request.instanceId)
        if history is None:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"orchestration instance {request.instanceId!r} not found")
            return
        for start in range(0, len(history), _HISTORY_CHUNK):
            yield pb.HistoryChunk(events=history[start:start + _HISTORY_CHUNK])

    def _durable_history(self, instance_id: str) -> list[Any] | None:
        for attempt in range(_READ_ATTEMPTS):
            history = self.engine.history(instance_id)
            try:
                self.engine.sync()
            except TransactionFailedError:
                if attempt == _READ_ATTEMPTS - 1:
                    raise
                continue
            return history
        return None

    def CreateTaskHub(self, request: Any, context: grpc.ServicerContext) -> Any:
        """No-op: the database is the task hub."""
        return pb.CreateTaskHubResponse()

    def DeleteTaskHub(self, request: Any, context: grpc.ServicerContext) -> Any:
        """No-op: delete the database file instead."""
        return pb.DeleteTaskHubResponse()

    # -- entity client -----------------------------------------------------------------------

    @_rpc
    def SignalEntity(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Queue a one-way entity operation."""
        self.engine.signal_entity(request.instanceId, request.name,
                                  optional_field(request, "input"),
                                  request.requestId, optional_time(request, "scheduledTime"))
        return pb.SignalEntityResponse()

    @_read
    def GetEntity(self, request: Any, context: grpc.ServicerContext) -> Any:
        """An entity's metadata and state; it exists while it has state."""
        with self.engine.lock:
            entity = self.engine.entities.get(request.instanceId)
            if entity is None or entity.state is None:
                return pb.GetEntityResponse(exists=False)
            return pb.GetEntityResponse(
                exists=True, entity=queries.entity_metadata(entity, request.includeState))

    @_read
    def QueryEntities(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Entities matching a query, paged."""
        with self.engine.lock:
            return queries.query_entities(self.engine.entities.values(), request.query)

    @_rpc
    def CleanEntityStorage(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Remove empty entities and release orphaned locks."""
        removed, released = self.engine.clean_storage(request.removeEmptyEntities,
                                                      request.releaseOrphanedLocks)
        return pb.CleanEntityStorageResponse(emptyEntitiesRemoved=removed,
                                             orphanedLocksReleased=released)

    # -- worker ------------------------------------------------------------------------------

    def GetWorkItems(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        """Stream leased work items (and health pings) to a worker."""
        stream = self.engine.open_stream(request)
        context.add_callback(lambda: self.engine.close_stream(stream))
        log.info("worker stream %d connected", stream.stream_id)
        try:
            while True:
                item = self.engine.next_work_item(stream)
                if item is None:
                    return
                yield item
        finally:
            self.engine.close_stream(stream)

    @_rpc
    def CompleteOrchestratorTask(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Apply an orchestrator step."""
        self.engine.complete_orchestration(request)
        return pb.CompleteTaskResponse()

    @_rpc
    def CompleteActivityTask(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Record an activity result."""
        self.engine.complete_activity(request)
        return pb.CompleteTaskResponse()

    @_rpc
    def CompleteEntityTask(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Apply an entity batch."""
        self.engine.complete_entity(request)
        return pb.CompleteTaskResponse()

    @_rpc
    def AbandonTaskOrchestratorWorkItem(self, request: Any,
                                        context: grpc.ServicerContext) -> Any:
        """Redeliver an orchestrator step shortly."""
        self.engine.abandon(request.completionToken)
        return pb.AbandonOrchestrationTaskResponse()

    @_rpc
    def AbandonTaskActivityWorkItem(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Redeliver an activity shortly."""
        self.engine.abandon(request.completionToken)
        return pb.AbandonActivityTaskResponse()

    @_rpc
    def AbandonTaskEntityWorkItem(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Redeliver an entity batch shortly."""
        self.engine.abandon(request.completionToken)
        return pb.AbandonEntityTaskResponse()

