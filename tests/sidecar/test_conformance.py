"""Plain durabletask SDK features against the SQLite sidecar."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from durabletask import client as dt_client
from durabletask import task
from durabletask.entities import DurableEntity, EntityInstanceId

from .helpers import wait_until

Status = dt_client.OrchestrationStatus


def add_one(ctx: task.ActivityContext, x: int) -> int:
    return x + 1


def chain(ctx: task.OrchestrationContext, n: int) -> Any:
    value = 0
    for _ in range(n):
        value = yield ctx.call_activity(add_one, input=value)
    return value


def fan_out(ctx: task.OrchestrationContext, n: int) -> Any:
    results = yield task.when_all([ctx.call_activity(add_one, input=i) for i in range(n)])
    return sum(results)


def test_activity_chain_and_fan_out(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[chain, fan_out], activities=[add_one])
    a = client.schedule_new_orchestration(chain, input=10)
    b = client.schedule_new_orchestration(fan_out, input=50)
    sa = client.wait_for_orchestration_completion(a, timeout=30)
    sb = client.wait_for_orchestration_completion(b, timeout=30)
    assert sa.runtime_status == Status.COMPLETED and sa.get_output() == 10
    assert sb.runtime_status == Status.COMPLETED and sb.get_output() == sum(range(1, 51))


def sleeper(ctx: task.OrchestrationContext, seconds: float) -> Any:
    start = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(seconds=seconds))
    return (ctx.current_utc_datetime - start).total_seconds()


def test_durable_timer(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[sleeper])
    iid = client.schedule_new_orchestration(sleeper, input=0.5)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == Status.COMPLETED
    assert state.get_output() >= 0.5


def approval(ctx: task.OrchestrationContext, _: Any) -> Any:
    event = ctx.wait_for_external_event("approve")
    timeout = ctx.create_timer(timedelta(seconds=30))
    winner = yield task.when_any([event, timeout])
    return event.get_result() if winner is event else "timeout"


def test_external_event(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[approval])
    iid = client.schedule_new_orchestration(approval)
    client.wait_for_orchestration_start(iid, timeout=10)
    client.raise_orchestration_event(iid, "approve", data={"ok": True})
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.get_output() == {"ok": True}


def test_raise_event_unknown_instance_is_not_found(client: Any) -> None:
    with pytest.raises(Exception, match="not found"):
        client.raise_orchestration_event("nope", "x")


def child(ctx: task.OrchestrationContext, x: int) -> Any:
    if x < 0:
        raise ValueError("negative")
    value = yield ctx.call_activity(add_one, input=x)
    return {"value": value, "parent": ctx.parent_instance_id}


def parent(ctx: task.OrchestrationContext, x: int) -> Any:
    try:
        return (yield ctx.call_sub_orchestrator(child, input=x, instance_id=f"{ctx.instance_id}-c"))
    except task.TaskFailedError as exc:
        return f"child failed: {exc.details.message}"


def test_sub_orchestrations(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[parent, child], activities=[add_one])
    ok = client.schedule_new_orchestration(parent, input=1, instance_id="p-ok")
    bad = client.schedule_new_orchestration(parent, input=-1, instance_id="p-bad")
    assert client.wait_for_orchestration_completion(ok, timeout=10).get_output() == {
        "value": 2, "parent": "p-ok"}
    out = client.wait_for_orchestration_completion(bad, timeout=10).get_output()
    assert "negative" in out


class Counter(DurableEntity):
    def add(self, n: int) -> int:
        value = self.get_state(int, 0) + n
        self.set_state(value)
        return value

    def get(self, _: Any = None) -> int:
        return self.get_state(int, 0)

    def boom(self, _: Any = None) -> None:
        raise RuntimeError("entity boom")


def use_counter(ctx: task.OrchestrationContext, key: str) -> Any:
    eid = EntityInstanceId("Counter", key)
    first = yield ctx.call_entity(eid, "add", input=5)
    ctx.signal_entity(eid, "add", input=10)
    with (yield ctx.lock_entities([eid])):
        locked = yield ctx.call_entity(eid, "add", input=1)
    try:
        yield ctx.call_entity(eid, "boom")
    except task.TaskFailedError as exc:
        failed = exc.details.message
    return [first, locked, failed]


def test_entities_call_signal_lock_state(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[use_counter], entities=[Counter])
    eid = EntityInstanceId("Counter", "k1")
    client.signal_entity(eid, "add", input=100)
    wait_until(lambda: client.get_entity(eid) is not None)
    iid = client.schedule_new_orchestration(use_counter, input="k1")
    state = client.wait_for_orchestration_completion(iid, timeout=20)
    assert state.runtime_status == Status.COMPLETED, state.failure_details
    first, locked, failed = state.get_output()
    assert first == 105
    assert locked == 116
    assert "entity boom" in failed
    meta = client.get_entity(eid)
    assert meta.get_state(int) == 116
    assert meta._locked_by == ""
    assert [e.id for e in client.get_all_entities()] == [eid]
    assert client.get_entity(EntityInstanceId("Counter", "missing")) is None


def lock_holder(ctx: task.OrchestrationContext, key: str) -> Any:
    eid = EntityInstanceId("Counter", key)
    with (yield ctx.lock_entities([eid])):
        yield ctx.wait_for_external_event("release")
        value = yield ctx.call_entity(eid, "get")
    return value


def test_entity_lock_defers_other_operations(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[lock_holder], entities=[Counter])
    eid = EntityInstanceId("Counter", "locked")
    iid = client.schedule_new_orchestration(lock_holder, input="locked")
    query = dt_client.EntityQuery(include_transient=True)
    wait_until(lambda: [e._locked_by for e in client.get_all_entities(query)] == [iid])
    client.signal_entity(eid, "add", input=7)
    client.raise_orchestration_event(iid, "release")
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.get_output() == 0  # the signal waited until the lock was released
    wait_until(lambda: (m := client.get_entity(eid)) is not None and m.get_state(int) == 7)


def status_setter(ctx: task.OrchestrationContext, _: Any) -> Any:
    ctx.set_custom_status({"stage": "waiting"})
    yield ctx.wait_for_external_event("go")
    ctx.set_custom_status({"stage": "done"})
    return "ok"


def test_custom_status_suspend_resume(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[status_setter])
    iid = client.schedule_new_orchestration(status_setter)
    wait_until(lambda: client.get_orchestration_state(iid).serialized_custom_status is not None)
    assert json.loads(client.get_orchestration_state(iid).serialized_custom_status) == {
        "stage": "waiting"}
    client.suspend_orchestration(iid)
    wait_until(lambda: client.get_orchestration_state(iid).runtime_status == Status.SUSPENDED)
    client.raise_orchestration_event(iid, "go")
    threading.Event().wait(0.3)
    assert client.get_orchestration_state(iid).runtime_status == Status.SUSPENDED
    client.resume_orchestration(iid)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == Status.COMPLETED
    assert json.loads(state.serialized_custom_status) == {"stage": "done"}


def waits_forever(ctx: task.OrchestrationContext, depth: int) -> Any:
    if depth > 0:
        yield ctx.call_sub_orchestrator(waits_forever, input=depth - 1,
                                        instance_id=f"{ctx.instance_id}-{depth}")
    yield ctx.wait_for_external_event("never")


def test_terminate_recursive_and_purge(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[waits_forever])
    iid = client.schedule_new_orchestration(waits_forever, input=1, instance_id="t")
    wait_until(lambda: client.get_orchestration_state("t-1") is not None
               and client.get_orchestration_state("t-1").runtime_status == Status.RUNNING)
    client.terminate_orchestration(iid, output="stopped", recursive=True)
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == Status.TERMINATED
    assert state.get_output() == "stopped"
    child_state = client.wait_for_orchestration_completion("t-1", timeout=10)
    assert child_state.runtime_status == Status.TERMINATED
    assert client.purge_orchestration(iid, recursive=True).deleted_instance_count == 2
    assert client.get_orchestration_state(iid) is None
    assert client.get_orchestration_state("t-1") is None


def test_purge_by_filter_skips_running(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[chain, waits_forever], activities=[add_one])
    done = [client.schedule_new_orchestration(chain, input=1) for _ in range(3)]
    running = client.schedule_new_orchestration(waits_forever, input=0)
    for iid in done:
        client.wait_for_orchestration_completion(iid, timeout=10)
    result = client.purge_orchestrations_by(
        created_time_from=datetime.now(timezone.utc) - timedelta(minutes=5))
    assert result.deleted_instance_count == 3
    assert client.get_orchestration_state(running) is not None


def counter_loop(ctx: task.OrchestrationContext, n: int) -> Any:
    if n < 5:
        yield ctx.call_activity(add_one, input=n)
        ctx.continue_as_new(n + 1)
        return None
    return n


def test_continue_as_new(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[counter_loop], activities=[add_one])
    iid = client.schedule_new_orchestration(counter_loop, input=0)
    state = client.wait_for_orchestration_completion(iid, timeout=20)
    assert state.runtime_status == Status.COMPLETED and state.get_output() == 5
    history = client.get_orchestration_history(iid)
    assert sum(1 for e in history if type(e).__name__ == "ExecutionStartedEvent") == 1


def test_queries_and_listing(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[chain], activities=[add_one])
    ids = [client.schedule_new_orchestration(chain, input=1, instance_id=f"q-{i}")
           for i in range(5)]
    for iid in ids:
        client.wait_for_orchestration_completion(iid, timeout=10)
    found = client.get_all_orchestration_states(dt_client.OrchestrationQuery(
        instance_id_prefix="q-", runtime_status=[Status.COMPLETED], max_instance_count=2,
        fetch_inputs_and_outputs=True))
    assert sorted(s.instance_id for s in found) == ids
    assert all(s.serialized_output == "1" for s in found)
    page = client.list_instance_ids(page_size=3)
    rest = client.list_instance_ids(page_size=3, continuation_token=page.continuation_token)
    assert sorted(page.items + rest.items) == ids
    assert rest.continuation_token is None


def test_history_streaming(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[chain], activities=[add_one])
    iid = client.schedule_new_orchestration(chain, input=60)
    client.wait_for_orchestration_completion(iid, timeout=30)
    names = [type(e).__name__ for e in client.get_orchestration_history(iid)]
    assert names[:2] == ["OrchestratorStartedEvent", "ExecutionStartedEvent"]
    assert names.count("TaskScheduledEvent") == 60
    assert names.count("TaskCompletedEvent") == 60
    assert names[-1] == "ExecutionCompletedEvent"


_attempts: dict[str, int] = {}


def flaky(ctx: task.ActivityContext, key: str) -> str:
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] < 3:
        raise RuntimeError("try again")
    return f"ok after {_attempts[key]}"


def retrying(ctx: task.OrchestrationContext, key: str) -> Any:
    policy = task.RetryPolicy(first_retry_interval=timedelta(milliseconds=100),
                              max_number_of_attempts=3)
    return (yield ctx.call_activity(flaky, input=key, retry_policy=policy))


def failing(ctx: task.OrchestrationContext, _: Any) -> Any:
    yield ctx.call_activity(flaky, input="never-enough")
    return "unreachable"


def test_retries_and_failures(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[retrying, failing], activities=[flaky])
    ok = client.schedule_new_orchestration(retrying, input="r1")
    assert client.wait_for_orchestration_completion(ok, timeout=10).get_output() == "ok after 3"
    bad = client.schedule_new_orchestration(failing)
    state = client.wait_for_orchestration_completion(bad, timeout=10)
    assert state.runtime_status == Status.FAILED
    assert "try again" in state.failure_details.message


def test_duplicate_instance_id_rejected(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[waits_forever])
    client.schedule_new_orchestration(waits_forever, input=0, instance_id="dup")
    with pytest.raises(Exception, match="already exists"):
        client.schedule_new_orchestration(waits_forever, input=0, instance_id="dup")


def test_scheduled_start(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[chain], activities=[add_one])
    at = datetime.now(timezone.utc) + timedelta(seconds=0.6)
    iid = client.schedule_new_orchestration(chain, input=1, start_at=at)
    threading.Event().wait(0.2)
    assert client.get_orchestration_state(iid).runtime_status == Status.PENDING
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == Status.COMPLETED
    assert state.last_updated_at.replace(tzinfo=timezone.utc) >= at - timedelta(milliseconds=50)


def test_restart(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[chain], activities=[add_one])
    iid = client.schedule_new_orchestration(chain, input=2, instance_id="again")
    client.wait_for_orchestration_completion(iid, timeout=10)
    new_id = client.restart_orchestration(iid, restart_with_new_instance_id=True)
    assert new_id != iid
    assert client.wait_for_orchestration_completion(new_id, timeout=10).get_output() == 2


_rewind_ok: set[str] = set()


def fails_once(ctx: task.ActivityContext, key: str) -> str:
    if key not in _rewind_ok:
        raise RuntimeError("first attempt fails")
    return "fixed"


def rewindable(ctx: task.OrchestrationContext, key: str) -> Any:
    return (yield ctx.call_activity(fails_once, input=key))


def test_rewind_failed_instance(client: Any, make_worker: Any) -> None:
    make_worker(orchestrators=[rewindable], activities=[fails_once])
    iid = client.schedule_new_orchestration(rewindable, input="rw")
    assert client.wait_for_orchestration_completion(iid, timeout=10).runtime_status == \
        Status.FAILED
    _rewind_ok.add("rw")
    client.rewind_orchestration(iid, reason="fixed the bug")
    state = client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == Status.COMPLETED and state.get_output() == "fixed"


def test_delayed_entity_signal(client: Any, make_worker: Any) -> None:
    make_worker(entities=[Counter])
    eid = EntityInstanceId("Counter", "later")
    client.signal_entity(eid, "add", input=3,
                         signal_time=datetime.now(timezone.utc) + timedelta(seconds=0.5))
    threading.Event().wait(0.2)
    assert client.get_entity(eid) is None
    wait_until(lambda: (m := client.get_entity(eid)) is not None and m.get_state(int) == 3)


def relay(ctx: Any, payload: Any) -> Any:
    """Function entity: `forward` signals another entity, now and (optionally) later."""
    if ctx.operation == "forward":
        target = EntityInstanceId("Counter", payload["key"])
        ctx.signal_entity(target, "add", payload["n"])
        later = datetime.now(timezone.utc) + timedelta(seconds=0.5)
        ctx.signal_entity(target, "add", payload["n"], signal_time=later)
    return None


def test_entity_signals_other_entities_now_and_later(client: Any, make_worker: Any) -> None:
    make_worker(entities=[Counter, relay])
    target = EntityInstanceId("Counter", "relayed")
    client.signal_entity(EntityInstanceId("relay", "r"), "forward", input={"key": "relayed", "n": 3})
    wait_until(lambda: (m := client.get_entity(target)) is not None and m.get_state(int) == 3)
    wait_until(lambda: client.get_entity(target).get_state(int) == 6)
