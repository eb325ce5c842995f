"""Fixtures: an in-process SQLite sidecar, durabletask workers and a client."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from durabletask import client as dt_client
from durabletask import worker as dt_worker

from durable_workflows.sidecar import SqliteSidecar

QUIET = logging.getLogger("tests.sidecar.quiet")
QUIET.setLevel(logging.ERROR)

Registration = dict[str, list[Any]]


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[SqliteSidecar]:
    """A sidecar on a fresh database file, on a free port."""
    with SqliteSidecar(str(tmp_path / "sidecar.db")) as sc:
        yield sc


@pytest.fixture
def client(sidecar: SqliteSidecar) -> Iterator[dt_client.TaskHubGrpcClient]:
    c = dt_client.TaskHubGrpcClient(host_address=sidecar.address, logger=QUIET)
    yield c
    c.close()


def start_worker(address: str, *, orchestrators: list[Any] = (),  # type: ignore[assignment]
                 activities: list[Any] = (), entities: list[Any] = (),  # type: ignore[assignment]
                 threads: int = 16, **kwargs: Any) -> dt_worker.TaskHubGrpcWorker:
    """A started durabletask worker with the given registrations."""
    w = dt_worker.TaskHubGrpcWorker(
        host_address=address, logger=QUIET,
        concurrency_options=dt_worker.ConcurrencyOptions(maximum_thread_pool_workers=threads),
        **kwargs)
    for fn in orchestrators:
        w.add_orchestrator(fn)
    for fn in activities:
        w.add_activity(fn)
    for ent in entities:
        w.add_entity(ent)
    w.start()
    return w


@pytest.fixture
def make_worker(sidecar: SqliteSidecar) -> Iterator[Callable[..., dt_worker.TaskHubGrpcWorker]]:
    """Factory for workers connected to ``sidecar``; all are stopped at teardown."""
    started: list[dt_worker.TaskHubGrpcWorker] = []

    def factory(**kwargs: Any) -> dt_worker.TaskHubGrpcWorker:
        w = start_worker(sidecar.address, **kwargs)
        started.append(w)
        return w

    yield factory
    for w in started:
        w.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0,
               interval: float = 0.02) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
