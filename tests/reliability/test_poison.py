"""Issue 10, defect 1 (sidecar side): a work item no worker can take fails its own run only.

The sidecar refuses to hand out a work item larger than ``max_work_item_bytes``, and one
that was handed out ``max_deliveries`` times without a result (here: a worker whose gRPC
receive limit is smaller than the item, so its stream breaks on every delivery). Either way
the run fails with a reason naming the size, and the other runs carry on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from durabletask import client as dt_client
from durabletask import worker as dt_worker
from durabletask.grpc_options import GrpcChannelOptions, GrpcWorkerResiliencyOptions

from durable_workflows.sidecar import SqliteSidecar

from ._size_helpers import QUIET

BIG = 200_000


def _echo(ctx: Any, value: str) -> int:
    return len(value)


def _measure(ctx: Any, value: str) -> Any:
    return (yield ctx.call_activity(_echo, input=value))


def _worker(address: str, receive_limit: int = -1) -> dt_worker.TaskHubGrpcWorker:
    worker = dt_worker.TaskHubGrpcWorker(
        host_address=address,
        logger=QUIET,
        channel_options=GrpcChannelOptions(max_receive_message_length=receive_limit),
        resiliency_options=GrpcWorkerResiliencyOptions(
            reconnect_backoff_base_seconds=0.05, reconnect_backoff_cap_seconds=0.2
        ),
    )
    worker.add_orchestrator(_measure)
    worker.add_activity(_echo)
    return worker


@pytest.fixture
def client_for() -> Iterator[Any]:
    opened: list[dt_client.TaskHubGrpcClient] = []

    def make(address: str) -> dt_client.TaskHubGrpcClient:
        opened.append(dt_client.TaskHubGrpcClient(host_address=address, logger=QUIET))
        return opened[-1]

    yield make
    for client in opened:
        client.close()


def _run_big_then_tiny(client: dt_client.TaskHubGrpcClient) -> tuple[Any, Any]:
    big = client.schedule_new_orchestration(_measure, input="x" * BIG)
    tiny = client.schedule_new_orchestration(_measure, input="y")
    return (
        client.wait_for_orchestration_completion(big, timeout=60),
        client.wait_for_orchestration_completion(tiny, timeout=60),
    )


def test_work_item_over_the_sidecar_limit_fails_its_run(client_for: Any) -> None:
    with SqliteSidecar(max_work_item_bytes=BIG // 2) as sidecar:
        worker = _worker(sidecar.address)
        worker.start()
        try:
            big, tiny = _run_big_then_tiny(client_for(sidecar.address))
        finally:
            worker.stop()
    assert big.runtime_status == dt_client.OrchestrationStatus.FAILED
    assert big.failure_details.error_type == "WorkItemTooLarge"
    assert "max_work_item_bytes=100,000" in big.failure_details.message
    assert tiny.runtime_status == dt_client.OrchestrationStatus.COMPLETED
    assert tiny.serialized_output == "1"


def test_work_item_no_worker_can_receive_fails_after_max_deliveries(client_for: Any) -> None:
    with SqliteSidecar(max_deliveries=3) as sidecar:
        worker = _worker(sidecar.address, receive_limit=BIG // 2)
        worker.start()
        try:
            big, tiny = _run_big_then_tiny(client_for(sidecar.address))
        finally:
            worker.stop()
    assert big.runtime_status == dt_client.OrchestrationStatus.FAILED
    assert big.failure_details.error_type == "WorkItemUndeliverable"
    assert "3 times without a result" in big.failure_details.message
    assert tiny.runtime_status == dt_client.OrchestrationStatus.COMPLETED
