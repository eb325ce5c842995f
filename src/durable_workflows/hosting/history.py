"""Reading a run's recorded history from the backend (for `WorkflowClient.export_history`)."""

from __future__ import annotations

from typing import Any

from ..durable.history import history_document
from ..durable.names import orchestrator_name
from ..errors import WorkflowNotFoundError
from ..graph.workflow import Workflow


async def export_history(
    durable_client: Any, run_id: str, workflows: dict[str, Workflow]
) -> dict[str, Any]:
    """The history document of run `run_id` (see `durable.history`), read over gRPC."""
    import grpc
    from durabletask.internal import orchestrator_service_pb2 as pb

    state = await durable_client.get_orchestration_state(run_id, fetch_payloads=False)
    if state is None:
        raise WorkflowNotFoundError(f"no run with id {run_id!r}")
    request = pb.StreamInstanceHistoryRequest(instanceId=run_id)
    events: list[Any] = []
    try:
        # durabletask's public get_orchestration_history converts the protobuf events into
        # its own classes; replay needs the protobufs, so read the stream directly
        async for chunk in durable_client._get_stub().StreamInstanceHistory(request):
            events.extend(chunk.events)
    except grpc.RpcError as exc:
        raise WorkflowNotFoundError(f"cannot read the history of run {run_id!r}: {exc}") from exc
    versions = [w for w in workflows.values() if orchestrator_name(w.name) == state.name]
    return history_document(run_id, state.name, state.runtime_status.name, events, versions)
