"""Read-only views of engine state as protobuf responses (call with the engine lock held)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from durable_workflows.sidecar.model import (
    Entity,
    Instance,
    now_ts,
    optional_time,
    pb,
    string_value,
)

if TYPE_CHECKING:
    from durable_workflows.sidecar.core import Core

_DEFAULT_PAGE = 100


def instance_state(inst: Instance, include_payloads: bool) -> Any:
    """The ``OrchestrationState`` message for an instance."""
    return pb.OrchestrationState(
        instanceId=inst.instance_id,
        name=inst.name,
        version=string_value(inst.version),
        orchestrationStatus=inst.status,
        createdTimestamp=now_ts(inst.created_at),
        lastUpdatedTimestamp=now_ts(inst.updated_at),
        completedTimestamp=None if inst.completed_at is None else now_ts(inst.completed_at),
        input=string_value(inst.input) if include_payloads else None,
        output=string_value(inst.output) if include_payloads else None,
        customStatus=string_value(inst.custom_status),
        failureDetails=inst.failure,
        executionId=string_value(inst.execution_id),
        parentInstanceId=string_value(inst.parent.instance_id if inst.parent else None),
        tags=inst.tags,
    )


def _window(message: Any, start: str, end: str) -> Callable[[float], bool]:
    """Whether a time lies in ``[start, end)``, from optional timestamp fields (unset: open)."""
    low, high = optional_time(message, start), optional_time(message, end)
    return lambda t: (low is None or t >= low) and (high is None or t < high)


def _bounds(message: Any, start: str, end: str) -> tuple[float | None, float | None]:
    return optional_time(message, start), optional_time(message, end)


def query_instances(engine: Core, query: Any) -> Any:
    """``QueryInstances``: filter by status, creation time and id prefix; paged by offset."""
    statuses = set(query.runtimeStatus)
    prefix = query.instanceIdPrefix.value if query.HasField("instanceIdPrefix") else ""
    created = _window(query, "createdTimeFrom", "createdTimeTo")
    finished = engine.finished(sorted(statuses), prefix=prefix,
                               created=_bounds(query, "createdTimeFrom", "createdTimeTo"))
    matching = sorted(
        (i for i in [*engine.instances.values(), *finished]
         if (not statuses or i.status in statuses)
         and i.instance_id.startswith(prefix)
         and created(i.created_at)),
        key=lambda i: (i.created_at, i.instance_id),
    )
    start = _offset(query.continuationToken.value if query.HasField("continuationToken") else "")
    size = query.maxInstanceCount if query.maxInstanceCount > 0 else len(matching)
    page = matching[start:start + size]
    more = start + size < len(matching)
    return pb.QueryInstancesResponse(
        orchestrationState=[instance_state(i, query.fetchInputsAndOutputs) for i in page],
        continuationToken=string_value(str(start + size)) if more else None,
    )


def list_instance_ids(engine: Core, req: Any) -> Any:
    """``ListInstanceIds``: finished instances ordered by completion time, keyset-paged."""
    statuses = set(req.runtimeStatus)
    completed = _window(req, "completedTimeFrom", "completedTimeTo")
    instances = engine.finished(
        sorted(statuses), completed=_bounds(req, "completedTimeFrom", "completedTimeTo"))
    keyed = sorted(
        ((i.completed_at, i.instance_id) for i in instances
         if i.terminal and i.completed_at is not None
         and (not statuses or i.status in statuses)
         and completed(i.completed_at)),
    )
    if req.HasField("lastInstanceKey") and req.lastInstanceKey.value:
        at, _, last_id = req.lastInstanceKey.value.partition("|")
        cursor = (float(at), last_id)
        keyed = [k for k in keyed if k > cursor]
    size = req.pageSize if req.pageSize > 0 else _DEFAULT_PAGE
    page = keyed[:size]
    token = None
    if len(keyed) > size:
        token = string_value(f"{page[-1][0]!r}|{page[-1][1]}")
    return pb.ListInstanceIdsResponse(instanceIds=[k[1] for k in page], lastInstanceKey=token)


def purge_targets(engine: Core, req: Any) -> list[str]:
    """The instance ids a ``PurgeInstances`` request names (finished ones only are purged)."""
    if req.HasField("purgeInstanceFilter"):
        pf = req.purgeInstanceFilter
        finished = engine.finished(sorted(pf.runtimeStatus),
                                   created=_bounds(pf, "createdTimeFrom", "createdTimeTo"))
        return [i.instance_id for i in finished]
    if req.HasField("instanceBatch"):
        return list(req.instanceBatch.instanceIds)
    return [req.instanceId] if req.instanceId else []


def entity_metadata(entity: Entity, include_state: bool) -> Any:
    """The ``EntityMetadata`` message for an entity."""
    return pb.EntityMetadata(
        instanceId=entity.entity_id,
        lastModifiedTime=now_ts(entity.updated_at),
        backlogQueueSize=len(entity.inbox),
        lockedBy=string_value(entity.lock_owner),
        serializedState=string_value(entity.state) if include_state else None,
    )


def query_entities(entities: Iterable[Entity], query: Any) -> Any:
    """``QueryEntities``: filter by id prefix and modification time; paged by offset."""
    prefix = query.instanceIdStartsWith.value if query.HasField("instanceIdStartsWith") else ""
    modified = _window(query, "lastModifiedFrom", "lastModifiedTo")
    matching = sorted(
        (e for e in entities
         if e.entity_id.startswith(prefix)
         and (query.includeTransient or e.state is not None)
         and modified(e.updated_at)),
        key=lambda e: e.entity_id,
    )
    start = _offset(query.continuationToken.value if query.HasField("continuationToken") else "")
    size = query.pageSize.value if query.HasField("pageSize") and query.pageSize.value > 0 \
        else len(matching)
    page = matching[start:start + size]
    more = start + size < len(matching)
    return pb.QueryEntitiesResponse(
        entities=[entity_metadata(e, query.includeState) for e in page],
        continuationToken=string_value(str(start + size)) if more else None,
    )


def _offset(token: str) -> int:
    return int(token) if token.isdigit() else 0
