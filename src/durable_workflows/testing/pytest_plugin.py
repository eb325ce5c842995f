"""pytest fixtures for testing workflows, registered as the ``durable_workflows`` plugin.

* ``workflow_host``: starts an embedded `DurableWorkflowHost` for the workflows you pass
  (``workflow_host(flow, clock="virtual")``) and stops it after the test;
* ``openai_server``: a started local OpenAI-compatible server (`LocalOpenAIServer`) for agent
  tests, stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..graph.workflow import Workflow
    from ..hosting.host import DurableWorkflowHost
    from .openai_server import LocalOpenAIServer


@pytest.fixture
def workflow_host() -> Iterator[Callable[..., DurableWorkflowHost]]:
    """A factory: ``workflow_host(*workflows, **host_options)`` returns a started embedded host."""
    from ..hosting.host import DurableWorkflowHost

    started: list[DurableWorkflowHost] = []

    def start(*workflows: Workflow, **options: Any) -> DurableWorkflowHost:
        host = DurableWorkflowHost(workflows=workflows, **options)
        host.start()
        started.append(host)
        return host

    yield start
    for host in started:
        host.stop()


@pytest.fixture
def openai_server() -> Iterator[LocalOpenAIServer]:
    """A started local OpenAI-compatible chat server; point clients at ``.base_url``."""
    from .openai_server import LocalOpenAIServer

    with LocalOpenAIServer() as server:
        yield server
