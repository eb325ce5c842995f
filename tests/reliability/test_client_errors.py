"""Issue 10, item 10: the client names the run, the address and the fix for every failure.

On the old main, a run id in use raised a raw ``AioRpcError`` (ALREADY_EXISTS), an
unreachable backend a raw UNAVAILABLE, a streamed run id with ``@`` was accepted and then
failed, and a process that never called ``host.stop()`` never exited.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from durabletask.testing import InMemoryOrchestrationBackend

from durable_workflows import (
    BackendError,
    BackendUnavailableError,
    DurableWorkflowHost,
    InvalidRunIdError,
    RunAlreadyExistsError,
    WorkflowBuilder,
    WorkflowClient,
    WorkflowNotFoundError,
    executor,
)
from durable_workflows.hosting.factories import create_client

from ._size_helpers import MB, drive, tiny_workflow

pytestmark = pytest.mark.e2e

TINY = tiny_workflow("ClientErrorsTiny")


@executor(id="length")
def _length(text: str) -> int:
    return len(text)


TEXT = WorkflowBuilder(_length, name="ClientErrorsText").build()


@pytest.fixture(scope="module")
def host() -> Iterator[DurableWorkflowHost]:
    with DurableWorkflowHost(workflows=[TINY]) as running:
        yield running


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_run_id_in_use_raises_run_already_exists(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> None:
        await (await client.run(TINY, 1, run_id="order-7")).wait_for_completion()
        with pytest.raises(RunAlreadyExistsError) as caught:
            await client.run(TINY, 2, run_id="order-7")
        assert caught.value.run_id == "order-7" and "already exists" in str(caught.value)

    drive(host, body)


def test_unreachable_backend_raises_backend_unavailable() -> None:
    address = f"localhost:{_free_port()}"

    async def body() -> None:
        client = WorkflowClient.from_connection_string(address, [TINY])
        try:
            with pytest.raises(BackendUnavailableError) as caught:
                await client.run(TINY, 1, run_id="r1")
            assert isinstance(caught.value, ConnectionError)
            assert address in str(caught.value) and "'r1'" in str(caught.value)
            with pytest.raises(BackendUnavailableError):
                await client.get_run("r1")
            with pytest.raises(BackendUnavailableError):
                await (await _handle(client, "r1")).get_status()
        finally:
            await client.close()

    asyncio.run(asyncio.wait_for(body(), 60))


async def _handle(client: WorkflowClient, run_id: str) -> object:
    from durable_workflows.hosting.runs import WorkflowRun

    return WorkflowRun(client, TINY, run_id)


def test_message_over_the_backends_limit_raises_backend_error() -> None:
    """durabletask's own in-memory backend keeps gRPC's 4 MB receive cap."""
    backend = InMemoryOrchestrationBackend(port=_free_port())
    address = backend.start()

    async def body() -> None:
        durable = create_client(address, asynchronous=True)
        client = WorkflowClient(durable, [TEXT], max_payload_bytes=64 * MB, address=address)
        try:
            with pytest.raises(BackendError) as caught:
                await client.run(TEXT, "x" * (5 * MB), run_id="huge")
            assert caught.value.code == "RESOURCE_EXHAUSTED"
            assert "'huge'" in str(caught.value) and "size limit" in str(caught.value)
        finally:
            await client.close()

    try:
        asyncio.run(asyncio.wait_for(body(), 60))
    finally:
        backend.stop()


def test_missing_run_raises_not_found(host: DurableWorkflowHost) -> None:
    async def body(client: WorkflowClient) -> None:
        with pytest.raises(WorkflowNotFoundError):
            await client.get_run("no-such-run")

    drive(host, body)


@pytest.mark.parametrize("run_id", ["a@b", "@dw_events@x", "", "tab\there"])
def test_unusable_run_ids_are_refused_at_start(host: DurableWorkflowHost, run_id: str) -> None:
    async def body(client: WorkflowClient) -> None:
        with pytest.raises(InvalidRunIdError):
            await client.stream(TINY, 1, run_id=run_id)
        with pytest.raises(InvalidRunIdError):
            await client.run(TINY, 1, run_id=run_id)

    drive(host, body)


def test_process_that_never_stops_its_host_exits() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from durable_workflows import DurableWorkflowHost, WorkflowBuilder, executor

        @executor(id="inc")
        def inc(x: int) -> int:
            return x + 1

        workflow = WorkflowBuilder(inc, name="NeverStopped").build()

        async def main() -> None:
            host = DurableWorkflowHost(workflows=[workflow])
            await asyncio.to_thread(host.start)  # and never host.stop()
            run = await host.client.run(workflow, 1)
            print("result", await run.wait_for_completion(), flush=True)

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "result 2" in done.stdout
