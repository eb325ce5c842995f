"""Fixtures for the hosting tests: a running embedded backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from durable_workflows.hosting.embedded import EmbeddedBackend


@pytest.fixture
def backend() -> Iterator[EmbeddedBackend]:
    with EmbeddedBackend() as running:
        yield running
