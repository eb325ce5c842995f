"""Workers and clients for each kind of connection, end to end on the embedded backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from durabletask import client, task, worker
from durabletask.azuremanaged.client import (
    AsyncDurableTaskSchedulerClient,
    DurableTaskSchedulerClient,
)
from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker

from durable_workflows.errors import DurableWorkflowsError
from durable_workflows.hosting.connection import ConnectionSettings, parse_connection_string
from durable_workflows.hosting.embedded import EmbeddedBackend
from durable_workflows.hosting.factories import (
    MIN_WORKER_THREADS,
    create_client,
    create_worker,
)


def greet(ctx: task.ActivityContext, name: str) -> str:
    return f"Hello, {name}!"


def hello(ctx: task.OrchestrationContext, name: str) -> Any:
    return (yield ctx.call_activity(greet, input=name))


def _scheduler_string(backend: EmbeddedBackend) -> str:
    return f"Endpoint=http://{backend.address};TaskHub=default;Authentication=None"


@pytest.fixture(params=["sidecar", "scheduler"])
def target(request: pytest.FixtureRequest, backend: EmbeddedBackend) -> str:
    """The embedded backend as a plain address, and as a Durable Task Scheduler string."""
    return backend.address if request.param == "sidecar" else _scheduler_string(backend)


@pytest.fixture
def running_worker(target: str) -> Iterator[worker.TaskHubGrpcWorker]:
    w = create_worker(target)
    w.add_orchestrator(hello)
    w.add_activity(greet)
    w.start()
    try:
        yield w
    finally:
        w.stop()


@pytest.mark.e2e
def test_sync_client_runs_an_orchestration(
    target: str, running_worker: worker.TaskHubGrpcWorker
) -> None:
    with create_client(target) as c:
        instance_id = c.schedule_new_orchestration(hello, input="world")
        state = c.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert state.serialized_output == '"Hello, world!"'


@pytest.mark.e2e
def test_async_client_runs_an_orchestration(
    target: str, running_worker: worker.TaskHubGrpcWorker
) -> None:
    async def run() -> client.OrchestrationState | None:
        async with create_client(target, asynchronous=True) as c:
            instance_id = await c.schedule_new_orchestration(hello, input="async")
            return await c.wait_for_orchestration_completion(instance_id, timeout=30)

    state = asyncio.run(run())
    assert state is not None
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert state.serialized_output == '"Hello, async!"'


class TestKinds:
    @pytest.mark.parametrize(
        ("target", "worker_type", "client_type", "async_client_type"),
        [
            (
                "localhost:4001",
                worker.TaskHubGrpcWorker,
                client.TaskHubGrpcClient,
                client.AsyncTaskHubGrpcClient,
            ),
            (
                "Endpoint=http://localhost:8080;TaskHub=default;Authentication=None",
                DurableTaskSchedulerWorker,
                DurableTaskSchedulerClient,
                AsyncDurableTaskSchedulerClient,
            ),
        ],
    )
    def test_each_kind_gets_its_types(
        self, target: str, worker_type: type, client_type: type, async_client_type: type
    ) -> None:
        assert type(create_worker(target)) is worker_type
        sync_client = create_client(target)
        async_client = create_client(target, asynchronous=True)
        assert type(sync_client) is client_type
        assert type(async_client) is async_client_type
        sync_client.close()
        asyncio.run(async_client.close())

    def test_settings_and_strings_are_both_accepted(self) -> None:
        settings = ConnectionSettings(host_address="localhost:4001")
        assert type(create_worker(settings)) is worker.TaskHubGrpcWorker

    def test_bad_string_is_a_connection_error(self) -> None:
        with pytest.raises(DurableWorkflowsError, match="no port"):
            create_worker("localhost")

    def test_authenticated_scheduler_gets_a_credential(self) -> None:
        import azure.identity

        text = "Endpoint=https://x.durabletask.io;TaskHub=h;Authentication=AzureCli"
        w = create_worker(text)
        assert isinstance(w, DurableTaskSchedulerWorker)
        interceptor = w._interceptors[-1]  # durabletask's DTS interceptor holds the credential
        assert isinstance(interceptor._token_credential, azure.identity.AzureCliCredential)


class TestWorkerOptions:
    def test_thread_pool_is_large_enough_for_fan_outs(self) -> None:
        w = create_worker("localhost:4001")
        assert w.concurrency_options.maximum_thread_pool_workers >= MIN_WORKER_THREADS

    def test_max_concurrency_sets_the_thread_pool(self) -> None:
        w = create_worker("localhost:4001", max_concurrency=5)
        assert w.concurrency_options.maximum_thread_pool_workers == 5

    def test_max_concurrency_must_be_positive(self) -> None:
        with pytest.raises(DurableWorkflowsError, match="at least 1"):
            create_worker("localhost:4001", max_concurrency=0)

    def test_sidecar_workers_never_drop_idle_streams(self) -> None:
        w = create_worker("localhost:4001")
        assert w._resiliency_options.silent_disconnect_timeout_seconds == 0

    def test_scheduler_workers_keep_the_dead_stream_detector(self) -> None:
        w = create_worker(
            parse_connection_string("Endpoint=http://l:1;TaskHub=h;Authentication=None")
        )
        assert w._resiliency_options.silent_disconnect_timeout_seconds > 0

    def test_secure_sidecar_uses_tls(self) -> None:
        w = create_worker("grpcs://sidecar:443")
        assert w._secure_channel is True
