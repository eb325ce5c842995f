"""System (b), the floor: hand-written durabletask orchestrations scheduling the same activities.

What the backend and SDK cost by themselves, with no graph engine on top.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from typing import Any

from _worker import HITL_IDLE_GAP_S, System, main
from durabletask import task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker

WAITING = "waiting"
"""Custom status the HITL orchestration sets just before it waits for its event."""

Orchestrator = Generator[task.Task[Any], Any, int]


def inc(ctx: task.ActivityContext, x: int) -> int:
    """The trivial step every system runs: an int increment."""
    return x + 1


def total(ctx: task.ActivityContext, xs: list[int]) -> int:
    """The fan-in step: sum of the list."""
    return sum(xs)


def chain(ctx: task.OrchestrationContext, n: int) -> Orchestrator:
    """n sequential activities."""
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(inc, input=x)
    return x


def fanout(ctx: task.OrchestrationContext, width: int) -> Orchestrator:
    """One activity, then `width` in parallel, then one taking their list."""
    x = yield ctx.call_activity(inc, input=0)
    xs = yield task.when_all([ctx.call_activity(inc, input=x) for _ in range(width)])
    result: int = yield ctx.call_activity(total, input=xs)
    return result


def hitl(ctx: task.OrchestrationContext, _: None) -> Orchestrator:
    """Wait for an external event, then one activity."""
    ctx.set_custom_status(WAITING)
    x = yield ctx.wait_for_external_event("approve")
    result: int = yield ctx.call_activity(inc, input=x)
    return result


def single(ctx: task.OrchestrationContext, x: int) -> Orchestrator:
    """One activity: the unit of the throughput scenario."""
    result: int = yield ctx.call_activity(inc, input=x)
    return result


class Floor(System):
    """Hand-written orchestrations on a `TaskHubGrpcWorker` with the shared settings."""

    async def start(self, cases: list[tuple[str, int]]) -> None:
        self.worker = TaskHubGrpcWorker(
            host_address=self.address,
            concurrency_options=self.spec.concurrency(),
            resiliency_options=self.spec.resiliency(),
        )
        for fn in (chain, fanout, hitl, single):
            self.worker.add_orchestrator(fn)
        for activity in (inc, total):
            self.worker.add_activity(activity)
        self.worker.start()
        self.client = TaskHubGrpcClient(host_address=self.address)

    async def stop(self) -> None:
        self.worker.stop()
        self.client.close()

    def _run(self, orchestrator: Any, arg: Any, expected: int) -> None:
        instance_id = self.client.schedule_new_orchestration(orchestrator, input=arg)
        self._check(instance_id, expected)

    def _check(self, instance_id: str, expected: int) -> None:
        state = self.client.wait_for_orchestration_completion(instance_id, timeout=3600)
        if state is None or state.runtime_status != OrchestrationStatus.COMPLETED:
            raise RuntimeError(f"run {instance_id} ended as {state and state.runtime_status}")
        if json.loads(state.serialized_output or "null") != expected:
            raise RuntimeError(f"run {instance_id} returned {state.serialized_output}")

    async def chain(self, n: int) -> None:
        self._run(chain, n, n)

    async def fanout(self, width: int) -> None:
        self._run(fanout, width, 2 * width)

    async def hitl(self) -> float:
        instance_id = self.client.schedule_new_orchestration(hitl)
        while True:
            state = self.client.get_orchestration_state(instance_id, fetch_payloads=True)
            if state is not None and state.serialized_custom_status == json.dumps(WAITING):
                break
            time.sleep(0.001)
        time.sleep(HITL_IDLE_GAP_S)
        t0 = time.perf_counter()
        self.client.raise_orchestration_event(instance_id, "approve", data=1)
        self._check(instance_id, 2)
        return time.perf_counter() - t0

    async def throughput(self, runs: int) -> None:
        ids = [self.client.schedule_new_orchestration(single, input=i) for i in range(runs)]
        # One blocking wait at a time: the stock backend's 10 server threads starve at 9.
        for i, instance_id in enumerate(ids):
            self._check(instance_id, i + 1)


if __name__ == "__main__":
    main("floor", Floor)
