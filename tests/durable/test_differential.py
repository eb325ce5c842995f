"""Differential: random workflows give the same run durably and in process.

Workflows come from the public `durable_workflows.testing.workflows` strategy (every construct:
executors of each kind, ports, agents, all edge groups, self-loops, halts, policies), and the
comparison is the public oracle `assert_durable_matches_in_process` (status, outputs, events).
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings

from durable_workflows import WaitingForInputEvent
from durable_workflows.graph.workflow import Workflow
from durable_workflows.testing import Trace, assert_durable_matches_in_process, workflows


def answer(request: WaitingForInputEvent) -> Trace:
    return Trace(path=["answer", request.request_id])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workflow=workflows(max_nodes=6))
def test_durable_matches_in_process(workflow: Workflow) -> None:
    asyncio.run(assert_durable_matches_in_process(workflow, Trace(path=["in"]), responses=answer))
