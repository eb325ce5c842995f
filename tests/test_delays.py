"""Delays (D7, C2): a node that forwards its message after a durable timer; in process, instant
on the virtual clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from durable_workflows import (
    Delay,
    DelayElapsedEvent,
    DelayStartedEvent,
    RequestPort,
    RequestTimedOut,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowDefinitionError,
    WorkflowValidationError,
    executor,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.runtime.engine import Engine
from durable_workflows.runtime.wire import decode_state, encode_state
from durable_workflows.testing import InProcessRunner, run_in_process

START = datetime(2030, 1, 1, tzinfo=timezone.utc)


@executor(id="order")
def order(n: int) -> int:
    return n


@executor(id="ship")
def ship(n: int) -> str:
    return f"shipped {n}"


def cooling(duration: timedelta = timedelta(hours=1)) -> Workflow:
    cool = Delay("cool", duration, message_type=int)
    return WorkflowBuilder(order, name="Cooling").add_chain([order, cool, ship]).build()


def test_a_delay_forwards_its_message_after_its_duration() -> None:
    """C2: a timer instead of an invocation; when it fires, the message goes on (next superstep);
    in process the clock jumps by the duration."""
    runner = InProcessRunner(cooling(), start=START)
    result = runner.run(3)
    assert result.status == "completed", result.error
    assert result.outputs == ["shipped 3"]
    assert runner.clock == START + timedelta(hours=1)
    started = [e for e in result.events if isinstance(e, DelayStartedEvent)]
    elapsed = [e for e in result.events if isinstance(e, DelayElapsedEvent)]
    assert [(e.timer_id, e.delay_id, e.seconds) for e in started] == [("cool:2:0", "cool", 3600.0)]
    assert [(e.timer_id, e.delay_id) for e in elapsed] == [("cool:2:0", "cool")]
    invoked = [(e.executor_id, e.superstep) for e in result.events if e.type == "executor_invoked"]
    assert invoked == [("order", 1), ("ship", 3)]
    types = [e.type for e in result.events]
    assert types.index("delay_elapsed") < types.index("executor_invoked", 2)


def test_a_terminal_delay_makes_an_output() -> None:
    """C2/M1: a delay without edges: its message becomes a workflow output."""
    pause = Delay("pause", timedelta(seconds=5))
    workflow = WorkflowBuilder(order, name="Pause").add_edge(order, pause).build()
    assert run_in_process(workflow, 4).outputs == [4]


def test_timers_fire_by_due_time_then_graph_position_and_index() -> None:
    """C2: two delays fire in due order; equal due times by graph position then index."""

    @executor(id="fan")
    def fan(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(n)
        ctx.send_message(n + 1)

    long = Delay("long", timedelta(minutes=10), message_type=int)
    short_b = Delay("short_b", timedelta(minutes=1), message_type=int)
    short_a = Delay("short_a", timedelta(minutes=1), message_type=int)

    @executor(id="sink")
    def sink(n: int, ctx: WorkflowContext[None, str]) -> None:
        ctx.yield_output(f"{n}")

    workflow = (
        WorkflowBuilder(fan, name="Race")
        .add_fan_out_edge(fan, [long, short_b, short_a])
        .add_edge(long, sink)
        .add_edge(short_b, sink)
        .add_edge(short_a, sink)
        .build()
    )
    result = run_in_process(workflow, 10)
    elapsed = [e.timer_id for e in result.events if isinstance(e, DelayElapsedEvent)]
    assert elapsed == [
        "short_b:2:0",
        "short_b:2:1",
        "short_a:2:0",
        "short_a:2:1",
        "long:2:0",
        "long:2:1",
    ]
    assert result.outputs == ["10", "11", "10", "11", "10", "11"]


def test_answers_take_no_time_but_a_delay_moves_the_clock_past_deadlines() -> None:
    """C1/C2: a responder answers before a delay fires; without one, a delay that outlasts a
    request's deadline times the request out."""

    @executor(id="split")
    def split(n: int) -> int:
        return n

    wait = Delay("wait", timedelta(hours=2), message_type=int)
    ask = RequestPort("ask", request_type=int, response_type=str, timeout=timedelta(hours=1))

    @executor(id="late")
    def late(t: RequestTimedOut[int]) -> str:
        return f"no answer to {t.request}"

    workflow = (
        WorkflowBuilder(split, name="Mixed")
        .add_fan_out_edge(split, [wait, ask])
        .add_timeout_edge(ask, late)
        .build()
    )
    answered = run_in_process(workflow, 1, responses=lambda e: "yes")
    assert answered.outputs == ["yes", 1]
    silent = run_in_process(workflow, 1)
    assert silent.status == "completed"
    assert silent.outputs == [1, "no answer to 1"]  # the timeout (1h) fires before the delay (2h)
    assert [e.type for e in silent.events if e.type in ("request_timed_out", "delay_elapsed")] == [
        "request_timed_out",
        "delay_elapsed",
    ]


def test_a_message_of_the_wrong_type_fails_the_run_naming_the_delay() -> None:
    """C2/P1: the message must match the delay's message type."""

    @executor(id="text")
    def text(n: int) -> str:
        return "not a number"

    wait = Delay("wait", timedelta(seconds=1))
    typed = Delay("typed", timedelta(seconds=1), message_type=int)
    workflow = WorkflowBuilder(text, name="Wrong").add_chain([text, wait]).build()
    assert run_in_process(workflow, 1).outputs == ["not a number"]
    bad = WorkflowBuilder(order, name="Bad").add_edge(order, typed).build()
    engine = Engine(bad)
    state = engine.start(1)
    state.pending[0].target = "typed"
    state.pending[0].message = "x"
    with pytest.raises(Exception, match="to delay 'typed', which asks for int"):
        engine.begin_superstep(state, START)


def test_delay_definition_and_types_are_checked() -> None:
    """D7: a non-positive duration is a definition error; B4 checks types across a delay."""
    with pytest.raises(WorkflowDefinitionError, match="duration must be a positive timedelta"):
        Delay("never", timedelta(0))
    with pytest.raises(WorkflowValidationError) as info:
        cool = Delay("cool", timedelta(1), message_type=str)
        WorkflowBuilder(order, name="Types").add_chain([order, cool, ship]).build()
    assert {i.code for i in info.value.issues} == {"type-mismatch"}


def test_a_halt_drops_the_timers() -> None:
    """H1: a halted run completes; its timers never fire."""

    @executor(id="stop")
    def stop(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(n)
        ctx.request_halt()

    cool = Delay("cool", timedelta(hours=1), message_type=int)
    workflow = WorkflowBuilder(stop, name="Halt").add_chain([stop, cool, ship]).build()
    result = run_in_process(workflow, 1)
    assert result.status == "completed"
    assert result.outputs == []
    assert not any(isinstance(e, DelayStartedEvent) for e in result.events)


def test_state_round_trip_keeps_timers() -> None:
    """J5: a running timer survives encode_state/decode_state (continue-as-new)."""
    workflow = cooling()
    engine = Engine(workflow)
    state = engine.start(7)
    runner = InProcessRunner(workflow)
    while (step := engine.begin_superstep(state, START)) is not None:
        engine.finish_superstep(state, step, runner.execute(state, step))
    assert engine.status(state) == "waiting"
    copy = decode_state(workflow, encode_state(workflow, state))
    assert engine.next_deadline(copy) == START + timedelta(hours=1)
    assert engine.fire_due(copy, START + timedelta(minutes=59)) == []
    events = engine.fire_due(copy, START + timedelta(hours=1))
    assert [e.type for e in events] == ["delay_elapsed"]
    assert [(d.target, d.message) for d in copy.pending] == [("ship", 7)]


def test_delay_is_in_the_plan_and_drawn() -> None:
    """B11 and rendering: the duration is part of the graph hash; the node shows it."""
    one, two = cooling(timedelta(hours=1)), cooling(timedelta(hours=2))
    assert one.graph_hash != two.graph_hash
    [node] = [n for n in one.plan.to_dict()["nodes"] if n["id"] == "cool"]
    assert node["kind"] == "delay"
    assert "delay=3600s" in node["output_types"]
    assert '"cool" [label="cool\\ndelay 1h\\nint", shape="box", style="rounded,filled,dashed"' in (
        one.to_dot()
    )
    assert 'n1(["cool<br/>delay 1h<br/>int"])' in one.to_mermaid()
