"""Fixtures: an in-process SQLite sidecar, durabletask workers and a client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from durabletask import client as dt_client
from durabletask import worker as dt_worker

from durable_workflows.sidecar import SqliteSidecar

from .helpers import QUIET, start_worker


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
