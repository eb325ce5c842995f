"""The embedded backend: lifecycle, and each workaround of durabletask's in-memory backend."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from durabletask import client, task, worker

from durable_workflows.errors import DurableWorkflowsError
from durable_workflows.hosting.embedded import EmbeddedBackend
from durable_workflows.hosting.factories import create_client, create_worker

pytestmark = pytest.mark.e2e


def wait_for_go(ctx: task.OrchestrationContext, _: Any) -> Any:
    return (yield ctx.wait_for_external_event("go"))


@pytest.fixture
def worker_and_client(
    backend: EmbeddedBackend,
) -> Iterator[tuple[worker.TaskHubGrpcWorker, client.TaskHubGrpcClient]]:
    w = create_worker(backend.address)
    w.add_orchestrator(wait_for_go)
    w.start()
    c = create_client(backend.address)
    try:
        yield w, c
    finally:
        c.close()
        w.stop()


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


class TestLifecycle:
    def test_port_zero_binds_a_real_free_port(self) -> None:
        with EmbeddedBackend() as first, EmbeddedBackend() as second:
            assert _port(first.address) > 0
            assert _port(second.address) not in (0, _port(first.address))
            for address in (first.address, second.address):
                with grpc.insecure_channel(address) as channel:
                    grpc.channel_ready_future(channel).result(timeout=5)

    def test_listens_on_loopback_only(self, backend: EmbeddedBackend) -> None:
        assert backend.address.startswith("127.0.0.1:")

    def test_address_before_start_and_after_stop_is_an_error(self) -> None:
        backend = EmbeddedBackend()
        assert not backend.is_running
        with pytest.raises(DurableWorkflowsError, match="not running"):
            _ = backend.address
        backend.start()
        assert backend.is_running
        backend.stop()
        backend.stop()  # idempotent
        with pytest.raises(DurableWorkflowsError, match="not running"):
            _ = backend.address

    def test_a_busy_port_is_a_clear_error(self) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(DurableWorkflowsError, match=f"cannot listen on 127.0.0.1:{port}"):
                EmbeddedBackend(port=port).start()

    def test_stop_frees_the_port(self) -> None:
        with EmbeddedBackend() as backend:
            port = _port(backend.address)
        with EmbeddedBackend(port=port) as again:
            assert _port(again.address) == port


def test_many_blocking_waits_do_not_starve_the_server(
    worker_and_client: tuple[worker.TaskHubGrpcWorker, client.TaskHubGrpcClient],
) -> None:
    """durabletask's 10 server threads starved with 9+ blocking waits; 20 must be fine."""
    _, c = worker_and_client
    ids = [c.schedule_new_orchestration(wait_for_go) for _ in range(20)]
    with ThreadPoolExecutor(len(ids)) as pool:
        waits = [pool.submit(c.wait_for_orchestration_completion, i, timeout=20) for i in ids]
        time.sleep(0.3)  # let every wait block on the server
        started = time.perf_counter()
        for index, instance_id in enumerate(ids):
            c.raise_orchestration_event(instance_id, "go", data=index)
        states = [wait.result() for wait in waits]
        elapsed = time.perf_counter() - started
    assert [s.runtime_status for s in states] == [client.OrchestrationStatus.COMPLETED] * 20
    assert [s.serialized_output for s in states] == [str(i) for i in range(20)]
    assert elapsed < 5, f"20 blocking waits took {elapsed:.2f}s"


def test_re_enqueue_of_a_queued_instance_wakes_the_dispatcher() -> None:
    """The stall's cause, pinned without timing: enqueueing a queued instance must wake."""
    backend = EmbeddedBackend()
    servicer = backend._servicer
    servicer._enqueue_orchestration("instance")
    servicer._work_available.clear()
    servicer._enqueue_orchestration("instance")  # already queued
    assert servicer._work_available.is_set()
    servicer._work_available.clear()
    servicer._enqueue_entity("@counter@a")
    servicer._work_available.clear()
    servicer._enqueue_entity("@counter@a")
    assert servicer._work_available.is_set()
