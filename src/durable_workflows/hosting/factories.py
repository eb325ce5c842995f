"""Durable Task workers and clients for a connection: plain gRPC, or Durable Task Scheduler.

`create_worker` and `create_client` take `ConnectionSettings` or a string that
`parse_connection_string` understands (an embedded backend's ``address`` is one). The Durable
Task Scheduler client comes from the ``azure`` extra (durabletask-azuremanaged), imported only
when a scheduler connection string is used.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType
from typing import Literal, overload

from durabletask.client import AsyncTaskHubGrpcClient, TaskHubGrpcClient
from durabletask.grpc_options import GrpcChannelOptions, GrpcWorkerResiliencyOptions
from durabletask.worker import ConcurrencyOptions, TaskHubGrpcWorker

from ..durable.event_data import EventDataConverter
from ..errors import DurableWorkflowsError
from ..sidecar.sticky import keep_orchestrators
from .auth import channel_arguments
from .connection import ConnectionSettings, create_credential, parse_connection_string

MIN_WORKER_THREADS = 32
"""The least number of handler threads a worker gets (durabletask's default is CPUs + 4)."""


UNLIMITED_MESSAGES: list[tuple[str, int]] = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
]
"""gRPC options of every channel and server the library creates: no message-size cap.

gRPC's default 4 MB receive cap made a run whose history passed 4 MB undeliverable (the
worker's stream died and the item came back forever). Sizes are bounded one level up instead,
per payload and per generation (docs/hosting.md, "Limits").
"""


def channel_options() -> GrpcChannelOptions:
    """durabletask channel options with `UNLIMITED_MESSAGES`."""
    return GrpcChannelOptions(raw_options=list(UNLIMITED_MESSAGES))


def default_max_concurrency() -> int:
    """Handler threads per worker when not given: at least 32, or 4 per CPU."""
    return max(MIN_WORKER_THREADS, 4 * (os.cpu_count() or 1))


def create_worker(
    target: ConnectionSettings | str,
    *,
    max_concurrency: int | None = None,
    logger: logging.Logger | None = None,
) -> TaskHubGrpcWorker:
    """A worker, not yet started, for `target`.

    `max_concurrency` bounds how many activities, entity operations and orchestrator episodes
    run at once in this worker (its thread pool); default `default_max_concurrency()`.
    Workers on a plain sidecar never drop an idle stream (those backends send no health
    pings); on the Durable Task Scheduler, which pings, durabletask's 120 s detector of
    silently dead streams stays on. The worker keeps its running orchestrators between their
    episodes (`durable_workflows.sidecar.sticky`).
    """
    settings = _settings(target)
    threads = default_max_concurrency() if max_concurrency is None else max_concurrency
    if threads < 1:
        msg = f"max_concurrency must be at least 1, got {threads}."
        raise DurableWorkflowsError(msg)
    concurrency = ConcurrencyOptions(maximum_thread_pool_workers=threads)
    if settings.taskhub is not None:
        worker_class = _scheduler_module("worker").DurableTaskSchedulerWorker
        scheduler_worker: TaskHubGrpcWorker = worker_class(
            host_address=settings.host_address,
            taskhub=settings.taskhub,
            token_credential=create_credential(settings),
            resource_id=settings.resource_id,
            secure_channel=settings.secure,
            channel_options=channel_options(),
            concurrency_options=concurrency,
            data_converter=EventDataConverter(),
            logger=logger or durabletask_logger(),
        )
        keep_orchestrators(scheduler_worker)
        return scheduler_worker
    worker = TaskHubGrpcWorker(
        **channel_arguments(settings, asynchronous=False),
        channel_options=channel_options(),
        concurrency_options=concurrency,
        resiliency_options=GrpcWorkerResiliencyOptions(silent_disconnect_timeout_seconds=0),
        data_converter=EventDataConverter(),
        logger=logger or durabletask_logger(),
    )
    keep_orchestrators(worker)
    return worker


@overload
def create_client(
    target: ConnectionSettings | str,
    *,
    asynchronous: Literal[False] = False,
    logger: logging.Logger | None = None,
) -> TaskHubGrpcClient: ...
@overload
def create_client(
    target: ConnectionSettings | str,
    *,
    asynchronous: Literal[True],
    logger: logging.Logger | None = None,
) -> AsyncTaskHubGrpcClient: ...
def create_client(
    target: ConnectionSettings | str,
    *,
    asynchronous: bool = False,
    logger: logging.Logger | None = None,
) -> TaskHubGrpcClient | AsyncTaskHubGrpcClient:
    """A durabletask client for `target`; `asynchronous` picks the grpc.aio flavour.

    Close it when done (``close()``, or ``await close()`` for the async one).
    """
    settings = _settings(target)
    if settings.taskhub is None:
        client_class = AsyncTaskHubGrpcClient if asynchronous else TaskHubGrpcClient
        return client_class(
            **channel_arguments(settings, asynchronous=asynchronous),
            channel_options=channel_options(),
            logger=logger or durabletask_logger(),
        )
    scheduler = _scheduler_module("client")
    scheduler_client: TaskHubGrpcClient | AsyncTaskHubGrpcClient
    if asynchronous:
        scheduler_client = scheduler.AsyncDurableTaskSchedulerClient(
            host_address=settings.host_address,
            taskhub=settings.taskhub,
            token_credential=create_credential(settings, asynchronous=True),
            resource_id=settings.resource_id,
            secure_channel=settings.secure,
            channel_options=channel_options(),
            logger=logger or durabletask_logger(),
        )
    else:
        scheduler_client = scheduler.DurableTaskSchedulerClient(
            host_address=settings.host_address,
            taskhub=settings.taskhub,
            token_credential=create_credential(settings),
            resource_id=settings.resource_id,
            secure_channel=settings.secure,
            channel_options=channel_options(),
            logger=logger or durabletask_logger(),
        )
    return scheduler_client


AZURE_EXTRA_HINT = (
    "A Durable Task Scheduler connection string needs the `azure` extra "
    "(durabletask-azuremanaged), which is not installed. Install it with "
    "`pip install -e '.[azure]'` in a clone of durable_workflows, or use a plain sidecar "
    "address (host:port) or the embedded backend (no connection string)."
)


def _scheduler_module(name: str) -> ModuleType:
    """``durabletask.azuremanaged.<name>``, or an error naming the ``azure`` extra."""
    try:
        return importlib.import_module(f"durabletask.azuremanaged.{name}")
    except ImportError as exc:
        raise DurableWorkflowsError(AZURE_EXTRA_HINT) from exc


def _settings(target: ConnectionSettings | str) -> ConnectionSettings:
    return target if isinstance(target, ConnectionSettings) else parse_connection_string(target)


class _DropShutdownNoise(logging.Filter):
    """durabletask logs a cancelled work-item stream as an error on every clean stop."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Locally cancelled by application" not in record.getMessage()


def durabletask_logger() -> logging.Logger:
    """The logger given to durabletask by default: warnings and up, no shutdown noise."""
    logger = logging.getLogger("durable_workflows.durabletask")
    if not logger.filters:
        logger.addFilter(_DropShutdownNoise())
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    return logger
