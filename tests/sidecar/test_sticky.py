"""Sticky orchestrations (sidecar/sticky.py): continuing a kept orchestrator gives exactly the
actions a full replay gives, and a history that does not continue it gets a full replay.

The differential test drives `StickyExecutor` and durabletask's own `_OrchestrationExecutor`
through the same histories, built by a small backend model from the actions they return, with
results delivered in random batches and episodes redelivered as after a failed commit.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from durabletask import client as dt_client
from durabletask import task
from durabletask import worker as dt_worker
from durabletask.internal import helpers as ph
from durabletask.serialization import JsonDataConverter
from hypothesis import given, settings
from hypothesis import strategies as st

from durable_workflows.hosting.factories import create_worker
from durable_workflows.sidecar import SqliteSidecar
from durable_workflows.sidecar.inproc import InProcessChannel
from durable_workflows.sidecar.local_worker import LocalWorker
from durable_workflows.sidecar.sticky import StickyCache, StickyExecutor, keep_orchestrators

from .helpers import QUIET

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
starts: list[str] = []
"""Instance ids, once per time the orchestrator body below starts (from the beginning)."""


def flow(ctx: task.OrchestrationContext, n: int) -> Any:
    starts.append(ctx.instance_id)
    total = 0
    for i in range(n):
        if i % 3 == 2:
            results = yield task.when_all([ctx.call_activity("work", input=i * 10 + j)
                                           for j in range(2)])
            total += sum(results)
        elif i % 3 == 1:
            winner = yield task.when_any([ctx.wait_for_external_event("go"),
                                          ctx.create_timer(timedelta(seconds=5))])
            total += 1000 if isinstance(winner.get_result(), str) else 1
        else:
            total += yield ctx.call_activity("work", input=i)
    if total % 2 and n < 6:
        ctx.continue_as_new(n + 1)
        return None
    return total


def _registry() -> Any:
    registry = dt_worker._Registry()
    registry.add_named_orchestrator("flow", flow)
    return registry


def _plain(registry: Any) -> Any:
    return dt_worker._OrchestrationExecutor(registry, QUIET, data_converter=JsonDataConverter())


def _sticky(registry: Any, cache: StickyCache) -> Any:
    return StickyExecutor(cache, registry, QUIET, data_converter=JsonDataConverter())


class Backend:
    """A run's history, grown from the actions an episode returns, as a sidecar grows it."""

    def __init__(self, instance_id: str, n: int) -> None:
        self.instance_id = instance_id
        self.history: list[Any] = []
        self.inbox: list[Any] = [ph.new_execution_started_event(
            "flow", instance_id, json.dumps(n))]
        self.deliverable: list[Any] = []
        self.episodes = 0
        self.finished: Any = None

    def episode(self, take: int) -> tuple[list[Any], list[Any]]:
        """The next episode's old and new events: an orchestratorStarted and ``take`` of the
        results that are ready (at least one)."""
        self.episodes += 1
        ready = self.inbox + self.deliverable
        count = max(1, min(take, len(ready)))
        chosen, rest = ready[:count], ready[count:]
        self.inbox, self.deliverable = [], rest
        started = ph.new_orchestrator_started_event(EPOCH + timedelta(seconds=self.episodes))
        return list(self.history), [started, *chosen]

    def commit(self, new: list[Any], actions: list[Any]) -> None:
        self.history += new
        for action in actions:
            if action.HasField("scheduleTask"):
                value = json.loads(action.scheduleTask.input.value)
                self.history.append(ph.new_task_scheduled_event(
                    action.id, action.scheduleTask.name, action.scheduleTask.input.value))
                self.deliverable.append(ph.new_task_completed_event(
                    action.id, json.dumps(value * 2)))
            elif action.HasField("createTimer"):
                fire_at = action.createTimer.fireAt.ToDatetime()
                self.history.append(ph.new_timer_created_event(action.id, fire_at))
                self.deliverable.append(ph.new_timer_fired_event(action.id, fire_at))
                self.deliverable.append(ph.new_event_raised_event("go", json.dumps("now")))
            elif action.HasField("completeOrchestration"):
                done = action.completeOrchestration
                if done.orchestrationStatus == ph.pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW:
                    self.history, self.deliverable = [], []
                    self.inbox = [ph.new_execution_started_event(
                        "flow", self.instance_id, done.result.value)]
                else:
                    self.finished = done


def _wire(actions: list[Any]) -> list[bytes]:
    return [action.SerializeToString(deterministic=True) for action in actions]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 7), batches=st.lists(st.integers(1, 3), min_size=40, max_size=40),
       faults=st.lists(st.sampled_from(["ok", "ok", "ok", "redeliver", "elsewhere"]),
                       min_size=40, max_size=40))
def test_continuing_gives_the_actions_of_a_full_replay(
    n: int, batches: list[int], faults: list[str],
) -> None:
    registry, cache = _registry(), StickyCache()
    backend = Backend("i1", n)
    for take, fault in zip(batches, faults, strict=True):
        if backend.finished is not None:
            break
        old, new = backend.episode(take)
        expected = _plain(registry).execute("i1", old, new)
        if fault == "elsewhere":  # another worker ran this episode
            actions = expected.actions
        else:
            actions = _sticky(registry, cache).execute("i1", old, new).actions
            assert _wire(actions) == _wire(expected.actions)
        if fault == "redeliver":  # the commit failed: the same episode comes again
            again = _sticky(registry, cache).execute("i1", old, new).actions
            assert _wire(again) == _wire(expected.actions)
        backend.commit(new, actions)
    assert backend.finished is not None or backend.episodes == len(batches)


def test_a_continued_episode_does_not_restart_the_orchestrator() -> None:
    registry, cache = _registry(), StickyCache()
    backend = Backend("i2", 1)
    starts.clear()
    while backend.finished is None:
        old, new = backend.episode(1)
        backend.commit(new, _sticky(registry, cache).execute("i2", old, new).actions)
    assert backend.episodes == 2 and starts == ["i2"]
    assert len(cache) == 0, "a finished run is not kept"


def test_a_new_generation_is_replayed_from_its_start() -> None:
    registry, cache = _registry(), StickyCache()
    backend = Backend("i3", 3)  # 0 + 1 + (20 + 22) * 2 -> odd: continues as new once
    starts.clear()
    generations = 1
    while backend.finished is None:
        old, new = backend.episode(3)
        result = _sticky(registry, cache).execute("i3", old, new)
        generations += any(
            a.completeOrchestration.orchestrationStatus == ph.pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
            for a in result.actions if a.HasField("completeOrchestration"))
        backend.commit(new, result.actions)
    assert len(starts) == generations >= 2


def test_an_episode_without_new_events_is_refused() -> None:
    backend = Backend("i5", 1)
    old, _ = backend.episode(1)
    with pytest.raises(task.OrchestrationStateError):
        _sticky(_registry(), StickyCache()).execute("i5", old, [])


def test_a_failing_orchestrator_is_not_kept() -> None:
    def broken(ctx: task.OrchestrationContext, _: Any) -> Any:
        yield ctx.call_activity("work", input=1)
        raise ValueError("boom")

    registry, cache = dt_worker._Registry(), StickyCache()
    registry.add_named_orchestrator("flow", broken)
    backend = Backend("i4", 0)
    old, new = backend.episode(1)
    backend.commit(new, _sticky(registry, cache).execute("i4", old, new).actions)
    assert len(cache) == 1
    old, new = backend.episode(1)
    actions = _sticky(registry, cache).execute("i4", old, new).actions
    assert actions[-1].completeOrchestration.failureDetails.errorMessage == "boom"
    assert len(cache) == 0


def test_the_cache_keeps_the_most_recently_run() -> None:
    registry, cache = _registry(), StickyCache(capacity=2)
    for instance in ("a", "b", "c"):
        backend = Backend(instance, 2)
        old, new = backend.episode(1)
        _sticky(registry, cache).execute(instance, old, new)
    assert len(cache) == 2 and cache.take("a") is None
    assert cache.take("b") is not None and cache.take("c") is not None


def add_one(ctx: task.ActivityContext, x: int) -> int:
    return x + 1


def counted_chain(ctx: task.OrchestrationContext, n: int) -> Any:
    starts.append(ctx.instance_id)
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(add_one, input=x)
    return x


def test_the_local_worker_runs_an_orchestrator_once_per_generation(
    sidecar: SqliteSidecar,
) -> None:
    worker = dt_worker.TaskHubGrpcWorker(channel=InProcessChannel(sidecar.servicer), logger=QUIET)
    local = LocalWorker(sidecar, worker)
    local.add_orchestrator(counted_chain)
    local.add_activity(add_one)
    client = dt_client.TaskHubGrpcClient(channel=InProcessChannel(sidecar.servicer), logger=QUIET)
    starts.clear()
    local.start()
    try:
        instance = client.schedule_new_orchestration(counted_chain, input=20)
        state = client.wait_for_orchestration_completion(instance, timeout=30)
    finally:
        local.stop()
        client.close()
    assert state is not None and state.serialized_output == "20"
    assert starts == [instance], "21 episodes, one start: the other 20 continued it"


def test_a_grpc_worker_keeps_its_orchestrators_too(sidecar: SqliteSidecar) -> None:
    worker = create_worker(sidecar.address, max_concurrency=2, logger=QUIET)
    worker.add_orchestrator(counted_chain)
    worker.add_activity(add_one)
    client = dt_client.TaskHubGrpcClient(host_address=sidecar.address, logger=QUIET)
    starts.clear()
    worker.start()
    try:
        instance = client.schedule_new_orchestration(counted_chain, input=10)
        state = client.wait_for_orchestration_completion(instance, timeout=30)
    finally:
        worker.stop()
        client.close()
    assert state is not None and state.serialized_output == "10"
    assert starts == [instance]


def test_a_worker_class_with_its_own_episodes_is_left_alone() -> None:
    class Custom(dt_worker.TaskHubGrpcWorker):
        def _execute_orchestrator(self, req: Any, stub: Any, completionToken: Any) -> None:
            raise NotImplementedError

    custom = Custom(host_address="localhost:1", logger=QUIET)
    assert keep_orchestrators(custom) is None
    assert "_execute_orchestrator" not in vars(custom)


def test_the_cache_holds_a_bounded_amount_of_history() -> None:
    registry = _registry()
    cache = StickyCache(capacity_bytes=120)  # an entry here is about 50 bytes
    for instance in ("a", "b", "c"):
        backend = Backend(instance, 2)
        old, new = backend.episode(1)
        _sticky(registry, cache).execute(instance, old, new)
    assert 0 < len(cache) < 3 and cache.take("c") is not None
    tiny = StickyCache(capacity_bytes=10)  # a run bigger than the whole cache is not kept
    backend = Backend("d", 2)
    old, new = backend.episode(1)
    _sticky(registry, tiny).execute("d", old, new)
    assert len(tiny) == 0
