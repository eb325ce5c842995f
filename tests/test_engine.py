"""The superstep engine's rules, one test (or a few) per anchor of docs/semantics.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from durable_workflows import (
    Case,
    Default,
    ExecutorFailedError,
    InvalidResponseError,
    MaxSuperstepsExceededError,
    RequestPort,
    RetryPolicy,
    SerializationError,
    WaitingForInputEvent,
    Workflow,
    WorkflowBuilder,
    WorkflowCompletedEvent,
    WorkflowContext,
    WorkflowRuntimeError,
    executor,
)
from durable_workflows.runtime.engine import Engine
from durable_workflows.runtime.state import RunState
from durable_workflows.testing import InProcessResult, run_in_process
from durable_workflows.testing.runner import InProcessRunner


class Item(BaseModel):
    name: str
    tags: list[str] = []


Log = list[tuple[str, Any, int]]


def recorder(log: Log) -> Callable[[str], Any]:
    """`make(id)` builds an executor that logs (id, message, superstep) and returns the message."""

    def make(node_id: str) -> Any:
        @executor(id=node_id)
        def node(message: Any, ctx: WorkflowContext) -> Any:
            log.append((node_id, message, ctx.superstep))
            return message

        return node

    return make


def completed(result: InProcessResult) -> InProcessResult:
    assert result.status == "completed", result.error
    return result


def failed(result: InProcessResult, error_type: type[Exception]) -> Exception:
    assert result.status == "failed"
    assert isinstance(result.error, error_type), result.error
    assert result.outputs == []
    return result.error


# -- S: supersteps ---------------------------------------------------------------------------


def test_superstep_one_runs_the_start_node_on_the_input() -> None:
    """S1: the input goes to the start node in superstep 1."""
    log: Log = []
    node = recorder(log)
    workflow = WorkflowBuilder(node("a"), name="s1").build()
    result = completed(run_in_process(workflow, "hello"))
    assert log == [("a", "hello", 1)]
    assert result.outputs == ["hello"]


def test_input_is_validated_and_converted_for_the_start_node() -> None:
    """S1: a dict input becomes the start node's model; a wrong input fails the run."""

    @executor
    def take(item: Item) -> str:
        return type(item).__name__ + ":" + item.name

    workflow = WorkflowBuilder(take, name="s1").build()
    assert completed(run_in_process(workflow, {"name": "x"})).outputs == ["Item:x"]
    error = failed(run_in_process(workflow, 42), SerializationError)
    assert "'take' accepts Item" in str(error)


def test_messages_sent_in_superstep_n_are_handled_in_n_plus_1() -> None:
    """S2: a chain a -> b -> c runs in supersteps 1, 2, 3; fan-out targets share a superstep."""
    log: Log = []
    node = recorder(log)
    a, b, c, d = node("a"), node("b"), node("c"), node("d")
    workflow = (
        WorkflowBuilder(a, name="s2").add_chain([a, b]).add_fan_out_edge(b, [c, d]).build()
    )
    result = completed(run_in_process(workflow, 0))
    assert [(n, step) for n, _, step in log] == [("a", 1), ("b", 2), ("c", 3), ("d", 3)]
    invoked = [(e.executor_id, e.superstep) for e in result.events if e.type == "executor_invoked"]
    assert invoked == [("a", 1), ("b", 2), ("c", 3), ("d", 3)]


def test_every_message_is_one_invocation() -> None:
    """S3: three messages to one node in one superstep are three invocations."""
    log: Log = []

    @executor
    def burst(n: int, ctx: WorkflowContext[int]) -> None:
        for i in range(3):
            ctx.send_message(n + i)

    sink = recorder(log)("sink")
    workflow = WorkflowBuilder(burst, name="s3").add_edge(burst, sink).build()
    result = completed(run_in_process(workflow, 10))
    assert log == [("sink", 10, 2), ("sink", 11, 2), ("sink", 12, 2)]
    assert result.outputs == [10, 11, 12]


def test_invocation_order_is_node_order_then_delivery_order() -> None:
    """S4: sorted by the node's position in the graph (stable), then by delivery order."""
    log: Log = []
    node = recorder(log)
    early, late = node("early"), node("late")

    @executor
    def start(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(1, target_id="late")
        ctx.send_message(2, target_id="early")
        ctx.send_message(3, target_id="late")
        ctx.send_message(4, target_id="early")

    workflow = (
        WorkflowBuilder(start, name="s4")
        .add_node(early)  # `early` is seen before `late`
        .add_fan_out_edge(start, [late, early])
        .build()
    )
    assert list(workflow.nodes) == ["start", "early", "late"]
    completed(run_in_process(workflow, 0))
    assert [(n, m) for n, m, _ in log] == [("early", 2), ("early", 4), ("late", 1), ("late", 3)]

    engine = Engine(workflow)
    state = engine.start(0)
    step = engine.begin_superstep(state)
    assert step is not None
    assert [(i.node_id, i.branch) for i in step.invocations] == [("start", 0)]


def test_invocation_branch_numbers_follow_the_order() -> None:
    """S4: `Invocation.branch` is the position in the superstep."""
    node = recorder([])
    a, b, c = node("a"), node("b"), node("c")
    workflow = WorkflowBuilder(a, name="s4").add_fan_out_edge(a, [c, b]).build()
    engine = Engine(workflow)
    runner = InProcessRunner(workflow)
    state = engine.start("x")
    step = engine.begin_superstep(state)
    assert step is not None
    engine.finish_superstep(state, step, runner.execute(state, step))
    step = engine.begin_superstep(state)
    assert step is not None
    assert [(i.node_id, i.branch, i.source) for i in step.invocations] == [
        ("c", 0, "a"),
        ("b", 1, "a"),
    ]


class ReversedRunner(InProcessRunner):
    """Runs each superstep's invocations last-first, returning results in invocation order."""

    def execute(self, state: RunState, step: Any) -> list[Any]:
        shared = dict(state.shared)
        results = {
            inv.branch: self._invoke(state, inv, shared) for inv in reversed(step.invocations)
        }
        return [results[inv.branch] for inv in step.invocations]


def test_outcome_does_not_depend_on_execution_order() -> None:
    """S5, T1, T2: running invocations in another order changes nothing."""

    @executor
    def start(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.set_state("seen", [])
        ctx.send_message(n)

    def worker(node_id: str) -> Any:
        @executor(id=node_id)
        def run(n: int, ctx: WorkflowContext[int, str]) -> int:
            ctx.yield_output(f"{node_id} saw {ctx.get_state('seen')}")
            ctx.set_state("seen", [*ctx.get_state("seen"), node_id])
            return n + 1

        return run

    @executor
    def end(values: list[int], ctx: WorkflowContext[Any, str]) -> None:
        ctx.yield_output(f"end saw {ctx.get_state('seen')} {values}")

    a, b, c = worker("a"), worker("b"), worker("c")
    workflow = (
        WorkflowBuilder(start, name="s5")
        .add_fan_out_edge(start, [a, b, c])
        .add_fan_in_barrier_edge([a, b, c], end)
        .build()
    )
    forward = completed(run_in_process(workflow, 1))
    backward = completed(ReversedRunner(workflow).run(1))
    assert forward.outputs == backward.outputs == [
        "a saw []",
        "b saw []",
        "c saw []",
        "end saw ['c'] [2, 2, 2]",
    ]


def test_each_invocation_gets_its_own_copy_of_the_message() -> None:
    """S6: a fan-out target mutating its message does not affect the other target."""

    @executor
    def make(name: str) -> Item:
        return Item(name=name)

    def tagger(node_id: str) -> Any:
        @executor(id=node_id)
        def tag(item: Item) -> Item:
            item.tags.append(node_id)
            return item

        return tag

    @executor
    def collect(items: list[Item]) -> list[list[str]]:
        return [item.tags for item in items]

    a, b = tagger("a"), tagger("b")
    workflow = (
        WorkflowBuilder(make, name="s6")
        .add_fan_out_edge(make, [a, b])
        .add_fan_in_barrier_edge([a, b], collect)
        .build()
    )
    assert completed(run_in_process(workflow, "x")).result == [["a"], ["b"]]


# -- T: shared state -------------------------------------------------------------------------


def test_state_is_the_superstep_snapshot_plus_own_writes() -> None:
    """T1: writes by other invocations of the same superstep are invisible."""
    seen: dict[str, Any] = {}

    @executor
    def start(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.set_state("k", "start")
        ctx.send_message(n)

    @executor
    def writer(n: int, ctx: WorkflowContext) -> None:
        seen["writer before"] = ctx.get_state("k")
        ctx.set_state("k", "writer")
        seen["writer after"] = ctx.get_state("k")

    @executor
    def reader(n: int, ctx: WorkflowContext) -> None:
        seen["reader"] = ctx.get_state("k")
        seen["reader missing"] = ctx.get_state("nope", "default")

    workflow = WorkflowBuilder(start, name="t1").add_fan_out_edge(start, [writer, reader]).build()
    completed(run_in_process(workflow, 1))
    assert seen == {
        "writer before": "start",
        "writer after": "writer",
        "reader": "start",
        "reader missing": "default",
    }


def test_state_writes_apply_at_superstep_end_last_writer_wins() -> None:
    """T2: two writers of one key in one superstep: the later in invocation order wins."""

    def writer(node_id: str) -> Any:
        @executor(id=node_id)
        def write(n: int, ctx: WorkflowContext[int]) -> None:
            ctx.set_state("k", node_id)
            ctx.send_message(n)

        return write

    @executor
    def start(n: int) -> int:
        return n

    @executor
    def read(values: list[int], ctx: WorkflowContext) -> str:
        return str(ctx.get_state("k"))

    first, second = writer("first"), writer("second")
    workflow = (
        WorkflowBuilder(start, name="t2")
        .add_node(first)
        .add_node(second)
        .add_fan_out_edge(start, [second, first])  # delivered second-first, invoked first-second
        .add_fan_in_barrier_edge([first, second], read)
        .build()
    )
    assert completed(run_in_process(workflow, 0)).result == "second"


def test_state_values_must_be_serialisable() -> None:
    """T3: an undeclared, non-JSON state value fails the writing node."""

    class Opaque:
        pass

    @executor
    def bad(n: int, ctx: WorkflowContext) -> None:
        ctx.set_state("k", Opaque())

    error = failed(run_in_process(WorkflowBuilder(bad, name="t3").build(), 1), ExecutorFailedError)
    assert isinstance(error, ExecutorFailedError)
    assert error.executor_id == "bad"
    assert "Opaque" in str(error)


# -- M: messages -----------------------------------------------------------------------------


def test_return_value_is_sent_after_the_handlers_own_sends() -> None:
    """M1: `return x` is `ctx.send_message(x)` after the handler's sends; None sends nothing."""
    log: Log = []

    @executor
    def start(n: int, ctx: WorkflowContext[str]) -> str:
        ctx.send_message("sent first")
        return "returned"

    @executor
    def quiet(n: int, ctx: WorkflowContext[str]) -> str | None:
        return None

    sink = recorder(log)("sink")
    workflow = WorkflowBuilder(start, name="m1").add_edge(start, sink).build()
    completed(run_in_process(workflow, 1))
    assert [m for _, m, _ in log] == ["sent first", "returned"]
    log.clear()
    workflow = WorkflowBuilder(quiet, name="m1").add_edge(quiet, sink).build()
    assert completed(run_in_process(workflow, 1)).outputs == []
    assert log == []


def test_terminal_node_return_value_is_an_output() -> None:
    """M2, O2: a node without outgoing edges returns an output."""

    @executor
    def only(n: int) -> int:
        return n * 3

    result = completed(run_in_process(WorkflowBuilder(only, name="m2").build(), 2))
    assert result.outputs == [6]
    assert result.result == 6


def test_terminal_node_send_message_fails_the_run() -> None:
    """M2, E2: ctx.send_message from a node without successors is an error."""

    @executor
    def only(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(n)

    result = run_in_process(WorkflowBuilder(only, name="m2").build(), 2)
    error = failed(result, WorkflowRuntimeError)
    assert "'only' sent a message but has no outgoing edges" in str(error)
    assert "yield_output" in str(error)
    assert result.events[-1].type == "workflow_failed"


def test_sent_values_are_checked_against_declared_types() -> None:
    """M3: returning a str from a `-> int` executor fails the run, naming it."""

    @executor
    def liar(n: int) -> int:
        return "not an int"  # type: ignore[return-value]

    error = failed(
        run_in_process(WorkflowBuilder(liar, name="m3").build(), 1), WorkflowRuntimeError
    )
    assert "'liar' sent a str, but it declares that it sends int" in str(error)


def test_context_send_types_are_checked() -> None:
    """M3: WorkflowContext[int] declares the sent type."""

    @executor
    def start(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message("text")  # type: ignore[arg-type]

    @executor
    def sink(n: Any) -> None:
        return None

    workflow = WorkflowBuilder(start, name="m3").add_edge(start, sink).build()
    error = failed(run_in_process(workflow, 1), WorkflowRuntimeError)
    assert "'start' sent a str" in str(error)


def test_none_returning_node_may_not_send() -> None:
    """M3, D3: a `-> None` handler that returns a value anyway is refused."""

    @executor
    def sneaky(n: int) -> None:
        return n  # type: ignore[return-value]

    error = failed(
        run_in_process(WorkflowBuilder(sneaky, name="m3").build(), 1), WorkflowRuntimeError
    )
    assert "'sneaky' sent an int, but it declares that it sends nothing" in str(error)


def test_target_id_must_name_a_successor() -> None:
    """M4: a target that is not a successor fails the run, naming node, target and successors."""

    @executor
    def start(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(n, target_id="elsewhere")

    @executor
    def nxt(n: int) -> int:
        return n

    @executor
    def elsewhere(n: int) -> None:
        return None

    workflow = (
        WorkflowBuilder(start, name="m4").add_edge(start, nxt).add_edge(nxt, elsewhere).build()
    )
    error = failed(run_in_process(workflow, 1), WorkflowRuntimeError)
    assert "'start' sent a message to 'elsewhere', which is not one of its successors ['nxt']" in (
        str(error)
    )


def test_target_id_restricts_delivery_and_respects_conditions() -> None:
    """M4: a targeted message only reaches that target, and a false condition still drops it."""
    log: Log = []
    node = recorder(log)
    a, b, c = node("a"), node("b"), node("c")

    @executor
    def start(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(1, target_id="b")
        ctx.send_message(-1, target_id="c")  # c's edge only passes positive numbers
        ctx.send_message(2)

    workflow = (
        WorkflowBuilder(start, name="m4")
        .add_fan_out_edge(start, [a, b])
        .add_edge(start, c, lambda n: n > 0)
        .build()
    )
    completed(run_in_process(workflow, 0))
    assert sorted((n, m) for n, m, _ in log) == [("a", 2), ("b", 1), ("b", 2), ("c", 2)]


# -- R: routing ------------------------------------------------------------------------------


def test_each_group_routes_independently() -> None:
    """R1: a target reached through two groups gets the message twice."""
    log: Log = []
    node = recorder(log)
    a, b = node("a"), node("b")
    workflow = WorkflowBuilder(a, name="r1").add_edge(a, b).add_fan_out_edge(a, [b]).build()
    completed(run_in_process(workflow, "m"))
    assert [n for n, _, _ in log] == ["a", "b", "b"]


def test_conditional_edge_false_drops_the_message() -> None:
    """R2: a false condition drops the message: no invocation, no output, no error."""
    log: Log = []
    node = recorder(log)
    a, big, small = node("a"), node("big"), node("small")
    workflow = (
        WorkflowBuilder(a, name="r2")
        .add_edge(a, big, lambda n: n >= 10)
        .add_edge(a, small, lambda n: n < 10)
        .build()
    )
    result = completed(run_in_process(workflow, 3))
    assert [n for n, _, _ in log] == ["a", "small"]
    assert result.outputs == [3]


def test_condition_truthiness_is_used() -> None:
    """R2: a condition's result is used for its truthiness."""
    log: Log = []
    node = recorder(log)
    a, b = node("a"), node("b")
    workflow = WorkflowBuilder(a, name="r2").add_edge(a, b, lambda s: s).build()  # type: ignore[arg-type,return-value]
    completed(run_in_process(workflow, ""))
    assert [n for n, _, _ in log] == ["a"]


def test_fan_out_delivers_to_every_target_in_order() -> None:
    """R3: each fan-out target gets the same message in the same superstep."""
    log: Log = []
    node = recorder(log)
    a, x, y, z = node("a"), node("x"), node("y"), node("z")
    workflow = WorkflowBuilder(a, name="r3").add_fan_out_edge(a, [x, y, z]).build()
    result = completed(run_in_process(workflow, 7))
    assert log[1:] == [("x", 7, 2), ("y", 7, 2), ("z", 7, 2)]
    assert result.outputs == [7, 7, 7]


def test_switch_case_is_first_match() -> None:
    """R4: the first true case wins; later conditions are not evaluated; else the default."""
    log: Log = []
    evaluated: list[str] = []
    node = recorder(log)
    a, small, even, other = node("a"), node("small"), node("even"), node("other")

    def is_small(n: int) -> bool:
        evaluated.append("is_small")
        return n < 10

    def is_even(n: int) -> bool:
        evaluated.append("is_even")
        return n % 2 == 0

    workflow = (
        WorkflowBuilder(a, name="r4")
        .add_switch_case_edge_group(a, [Case(is_small, small), Case(is_even, even), Default(other)])
        .build()
    )
    completed(run_in_process(workflow, 4))  # both cases are true
    assert [n for n, _, _ in log] == ["a", "small"]
    assert evaluated == ["is_small"]
    log.clear()
    evaluated.clear()
    completed(run_in_process(workflow, 12))
    assert [n for n, _, _ in log] == ["a", "even"]
    log.clear()
    completed(run_in_process(workflow, 13))
    assert [n for n, _, _ in log] == ["a", "other"]


def test_condition_raising_fails_the_run_naming_it() -> None:
    """R5, E2: an exception in a condition fails the run."""

    def explode(n: int) -> bool:
        raise KeyError("boom")

    node = recorder([])
    a, b = node("a"), node("b")
    workflow = WorkflowBuilder(a, name="r5").add_edge(a, b, explode).build()
    result = run_in_process(workflow, 1)
    error = failed(result, WorkflowRuntimeError)
    assert "condition 'explode' of edge 'a' -> 'b' raised KeyError" in str(error)
    workflow = (
        WorkflowBuilder(a, name="r5")
        .add_switch_case_edge_group(a, [Case(explode, b, label="risky"), Default(b)])
        .build()
    )
    error = failed(run_in_process(workflow, 1), WorkflowRuntimeError)
    assert "case 'risky' of the switch-case group from 'a' raised KeyError" in str(error)


def test_condition_returning_an_awaitable_fails_the_run() -> None:
    """R5: a sync condition that returns a coroutine is not silently 'true'."""

    async def check(n: int) -> bool:
        return False

    def sneaky(n: int) -> Any:
        return check(n)

    node = recorder([])
    a, b = node("a"), node("b")
    workflow = WorkflowBuilder(a, name="r5").add_edge(a, b, sneaky).build()
    error = failed(run_in_process(workflow, 1), WorkflowRuntimeError)
    assert "returned an awaitable" in str(error)


# -- F: fan-in barriers ----------------------------------------------------------------------


def test_barrier_list_is_in_source_declaration_order_and_waits_for_all() -> None:
    """F1-F3: the slow branch arrives later; the list still follows the declared source order."""
    log: Log = []
    node = recorder(log)
    start, slow1, slow2, fast, join = (
        node("start"),
        node("slow1"),
        node("slow2"),
        node("fast"),
        node("join"),
    )
    workflow = (
        WorkflowBuilder(start, name="f1")
        .add_fan_out_edge(start, [slow1, fast])
        .add_edge(slow1, slow2)
        .add_fan_in_barrier_edge([slow2, fast], join)
        .build()
    )
    result = completed(run_in_process(workflow, "m"))
    assert ("join", ["m", "m"], 4) in log  # fast delivered in step 2, slow2 in step 3
    assert [n for n, _, _ in log].count("join") == 1
    assert result.outputs == [["m", "m"]]

    @executor
    def tag_a(text: str) -> str:
        return "A"

    @executor
    def tag_b(text: str) -> str:
        return "B"

    @executor
    def joined(texts: list[str]) -> str:
        return "".join(texts)

    ordered = (
        WorkflowBuilder(start, name="f1")
        .add_fan_out_edge(start, [tag_a, tag_b])
        .add_fan_in_barrier_edge([tag_b, tag_a], joined)
        .build()
    )
    assert completed(run_in_process(ordered, "m")).result == "BA"


def test_barrier_fires_once_per_activation() -> None:
    """F4: two rounds through a loop give exactly two activations of the target."""
    log: Log = []

    @executor
    def start(n: int) -> int:
        return n

    @executor
    def left(n: int) -> int:
        return n

    @executor
    def right(n: int) -> int:
        return n

    @executor
    def join(values: list[int], ctx: WorkflowContext[int, list[int]]) -> None:
        log.append(("join", values, ctx.superstep))
        ctx.yield_output(values)
        if values[0] < 2:
            ctx.send_message(values[0] + 1)

    workflow = (
        WorkflowBuilder(start, name="f4")
        .add_fan_out_edge(start, [left, right])
        .add_fan_in_barrier_edge([left, right], join)
        .add_edge(join, start)
        .build()
    )
    result = completed(run_in_process(workflow, 0))
    assert log == [("join", [0, 0], 3), ("join", [1, 1], 6), ("join", [2, 2], 9)]
    assert result.outputs == [[0, 0], [1, 1], [2, 2]]


def test_barrier_with_a_source_delivering_twice() -> None:
    """F2, F4: a source's second message waits for the next activation; leftovers are dropped."""
    log: Log = []

    @executor
    def start(n: int) -> int:
        return n

    @executor
    def chatty(n: int, ctx: WorkflowContext[int]) -> None:
        ctx.send_message(n + 1)
        ctx.send_message(n + 2)

    @executor
    def once(n: int) -> int:
        return n * 100

    @executor
    def join(values: list[int], ctx: WorkflowContext) -> list[int]:
        log.append(("join", values, ctx.superstep))
        return values

    workflow = (
        WorkflowBuilder(start, name="f4")
        .add_fan_out_edge(start, [chatty, once])
        .add_fan_in_barrier_edge([chatty, once], join)
        .build()
    )
    result = completed(run_in_process(workflow, 1))
    assert log == [("join", [2, 100], 3)]  # `3` waits in chatty's queue forever (F5)
    assert result.outputs == [[2, 100]]
    completion = result.events[-1]
    assert isinstance(completion, WorkflowCompletedEvent)
    assert completion.unfired_barriers == {"join": {"chatty": 1}}


def test_barrier_holding_two_full_sets_fires_twice() -> None:
    """F2: every complete set is one activation, oldest messages first."""
    log: Log = []

    @executor
    def start(n: int) -> int:
        return n

    def twice(node_id: str) -> Any:
        @executor(id=node_id)
        def send_two(n: int, ctx: WorkflowContext[str]) -> None:
            ctx.send_message(f"{node_id}1")
            ctx.send_message(f"{node_id}2")

        return send_two

    @executor
    def join(values: list[str], ctx: WorkflowContext) -> None:
        log.append(("join", values, ctx.superstep))

    a, b = twice("a"), twice("b")
    workflow = (
        WorkflowBuilder(start, name="f2")
        .add_fan_out_edge(start, [a, b])
        .add_fan_in_barrier_edge([a, b], join)
        .build()
    )
    completed(run_in_process(workflow, 0))
    assert log == [("join", ["a1", "b1"], 3), ("join", ["a2", "b2"], 3)]


# -- P: request ports ------------------------------------------------------------------------


class Expense(BaseModel):
    amount: int


@executor
def submit(amount: int) -> Expense:
    return Expense(amount=amount)


@executor
def decide(approved: bool) -> str:
    return "paid" if approved else "rejected"


def approval_workflow(port: RequestPort | None = None) -> Workflow:
    port = port or RequestPort("Approve", request_type=Expense, response_type=bool)
    return WorkflowBuilder(submit, name="ports").add_chain([submit, port, decide]).build()


def test_request_ids_and_waiting_without_a_responder() -> None:
    """P1, P2, P5: the run waits; request id is port:superstep:k; no terminal event."""
    result = run_in_process(approval_workflow(), 50)
    assert result.status == "waiting"
    assert result.error is None
    [waiting] = result.pending_requests
    assert waiting.request_id == "Approve:2:0"
    assert waiting.port_id == "Approve"
    assert waiting.request == Expense(amount=50)
    assert waiting.response_type == "bool"
    assert result.events[-1] is waiting
    assert not any(e.type in ("workflow_completed", "workflow_failed") for e in result.events)


def test_responses_are_routed_as_the_ports_message() -> None:
    """P4: the response goes to the port's successor in the next superstep."""
    asked: list[WaitingForInputEvent] = []

    def answer(event: WaitingForInputEvent) -> bool:
        asked.append(event)
        return bool(event.request.amount < 100)

    result = completed(run_in_process(approval_workflow(), 50, responses=answer))
    assert result.outputs == ["paid"]
    assert [e.request_id for e in asked] == ["Approve:2:0"]
    received = [e for e in result.events if e.type == "response_received"]
    assert len(received) == 1
    invoked = [(e.executor_id, e.superstep) for e in result.events if e.type == "executor_invoked"]
    assert invoked == [("submit", 1), ("decide", 3)]
    assert completed(run_in_process(approval_workflow(), 500, responses=answer)).result == (
        "rejected"
    )


def test_several_requests_at_one_port_in_one_superstep() -> None:
    """P1: k counts the port's requests within the superstep."""

    @executor
    def split(n: int, ctx: WorkflowContext[Expense]) -> None:
        for i in range(n):
            ctx.send_message(Expense(amount=i))

    port = RequestPort("Approve", request_type=Expense, response_type=bool)
    workflow = WorkflowBuilder(split, name="ports").add_chain([split, port, decide]).build()
    result = run_in_process(workflow, 3)
    assert [e.request_id for e in result.pending_requests] == [
        "Approve:2:0",
        "Approve:2:1",
        "Approve:2:2",
    ]
    answered = completed(run_in_process(workflow, 3, responses=lambda e: e.request.amount != 1))
    assert answered.outputs == ["paid", "rejected", "paid"]


def test_terminal_port_response_is_an_output() -> None:
    """P4, O1: a port without successors: its response is a workflow output."""
    port = RequestPort("Ask", request_type=Expense, response_type=str)
    workflow = WorkflowBuilder(submit, name="ports").add_edge(submit, port).build()
    result = completed(run_in_process(workflow, 1, responses=lambda e: "answer"))
    assert result.outputs == ["answer"]


def test_responses_are_validated() -> None:
    """P3: a wrong response is refused and the request stays open; unknown ids are refused."""
    workflow = approval_workflow()
    engine = Engine(workflow)
    runner = InProcessRunner(workflow)
    state = engine.start(10)
    while (step := engine.begin_superstep(state)) is not None:
        engine.finish_superstep(state, step, runner.execute(state, step))
    assert engine.status(state) == "waiting"
    with pytest.raises(InvalidResponseError, match="'Approve' refused"):
        engine.submit_response(state, "Approve:2:0", {"not": "a bool"})
    assert list(state.requests) == ["Approve:2:0"]
    with pytest.raises(InvalidResponseError, match="no pending request 'Approve:9:0'"):
        engine.submit_response(state, "Approve:9:0", True)
    with pytest.raises(InvalidResponseError, match="'Approve' refused"):
        engine.submit_response(state, "Approve:2:0", "true")  # a str is not a JSON bool
    events = engine.submit_response(state, "Approve:2:0", True)
    assert [e.type for e in events] == ["response_received"]
    assert state.requests == {}
    assert engine.status(state) == "running"
    assert state.pending[0].message is True


def test_bad_response_from_the_callable_fails_the_in_process_run() -> None:
    """P5: a refused response ends an in-process run with the InvalidResponseError."""
    result = run_in_process(approval_workflow(), 1, responses=lambda e: {"x": 1})
    failed(result, InvalidResponseError)


def test_request_must_match_the_ports_request_type() -> None:
    """P1: an untyped sender cannot smuggle a wrong request into a typed port."""

    @executor
    def untyped(n: int):  # type: ignore[no-untyped-def]
        return "not an expense"

    port = RequestPort("Approve", request_type=Expense, response_type=bool)
    workflow = WorkflowBuilder(untyped, name="ports").add_chain([untyped, port, decide]).build()
    error = failed(run_in_process(workflow, 1), WorkflowRuntimeError)
    assert "'untyped' sent a str to request port 'Approve', which asks for Expense" in str(error)

    @executor
    def as_dict(n: int):  # type: ignore[no-untyped-def]
        return {"amount": n}

    workflow = WorkflowBuilder(as_dict, name="ports").add_chain([as_dict, port, decide]).build()
    [waiting] = run_in_process(workflow, 5).pending_requests
    assert waiting.request == Expense(amount=5)


# -- H, L, O, E: ending a run ----------------------------------------------------------------


def test_halt_completes_after_the_current_superstep() -> None:
    """H1: the halting superstep is applied in full; pending messages are dropped."""
    log: Log = []
    node = recorder(log)
    after = node("after")

    @executor
    def start(n: int) -> int:
        return n

    @executor
    def stopper(n: int, ctx: WorkflowContext[int, str]) -> int:
        ctx.yield_output("stopping")
        ctx.request_halt()
        return n

    @executor
    def sibling(n: int, ctx: WorkflowContext[int]) -> int:
        ctx.set_state("sibling ran", True)
        return n

    workflow = (
        WorkflowBuilder(start, name="h1")
        .add_fan_out_edge(start, [stopper, sibling])
        .add_edge(stopper, after)
        .add_edge(sibling, after)
        .build()
    )
    result = completed(run_in_process(workflow, 1))
    assert result.outputs == ["stopping"]
    assert log == []  # `after` never ran
    assert result.events[-1].type == "workflow_completed"


def test_halt_drops_open_requests() -> None:
    """H1: requests are dropped too; the run is completed, not waiting."""

    @executor
    def start(n: int) -> int:
        return n

    @executor
    def stopper(n: int, ctx: WorkflowContext) -> None:
        ctx.request_halt()

    @executor
    def relay(n: int) -> int:
        return n

    port = RequestPort("Ask", request_type=int, response_type=int)
    workflow = (
        WorkflowBuilder(start, name="h1")
        .add_fan_out_edge(start, [port, stopper])
        .add_edge(port, relay)
        .build()
    )
    engine = Engine(workflow)
    runner = InProcessRunner(workflow)
    state = engine.start(1)
    while (step := engine.begin_superstep(state)) is not None:
        engine.finish_superstep(state, step, runner.execute(state, step))
    assert engine.status(state) == "completed"
    assert state.requests == {}
    with pytest.raises(InvalidResponseError):
        engine.submit_response(state, "Ask:2:0", 1)
    assert completed(run_in_process(workflow, 1, responses=lambda e: 5)).outputs == []


def loop_workflow(limit: int, stop_at: int) -> Workflow:
    @executor
    def count(n: int) -> int:
        return n + 1

    return (
        WorkflowBuilder(count, name="loop", max_supersteps=limit)
        .add_edge(count, count, lambda n: n < stop_at)
        .build()
    )


def test_exceeding_max_supersteps_fails_the_run() -> None:
    """L1: never a silent success; the message names the limit and the pending targets."""
    result = run_in_process(loop_workflow(limit=5, stop_at=100), 0)
    error = failed(result, MaxSuperstepsExceededError)
    assert "did not finish within max_supersteps=5" in str(error)
    assert "['count']" in str(error)
    assert "Raise max_supersteps" in str(error)
    assert result.events[-1].type == "workflow_failed"
    invoked = [e for e in result.events if e.type == "executor_invoked"]
    assert len(invoked) == 5


def test_using_exactly_max_supersteps_succeeds() -> None:
    """L1: a run that needs exactly the limit completes."""
    # count runs with 0..4 -> sends 1..5; 5 is not < 5, so the loop ends after 5 supersteps
    result = completed(run_in_process(loop_workflow(limit=5, stop_at=5), 0))
    assert result.outputs == []
    invoked = [e for e in result.events if e.type == "executor_invoked"]
    assert len(invoked) == 5


def test_outputs_are_ordered_by_superstep_invocation_then_yield() -> None:
    """O1, O2: superstep first, then invocation order, then yields, then the terminal return."""

    @executor
    def start(n: int, ctx: WorkflowContext[int, str]) -> int:
        ctx.yield_output("start-1")
        ctx.yield_output("start-2")
        return n

    def leaf(node_id: str) -> Any:
        @executor(id=node_id)
        def run(n: int, ctx: WorkflowContext[Any, str]) -> str:
            ctx.yield_output(f"{node_id}-yield")
            return f"{node_id}-return"

        return run

    z, a = leaf("z"), leaf("a")
    workflow = WorkflowBuilder(start, name="o1").add_fan_out_edge(start, [z, a]).build()
    result = completed(run_in_process(workflow, 0))
    assert result.outputs == [
        "start-1",
        "start-2",
        "z-yield",
        "z-return",
        "a-yield",
        "a-return",
    ]
    assert result.result == "a-return"
    completed_event = result.events[-1]
    assert completed_event.type == "workflow_completed"
    assert completed_event.outputs == result.outputs  # type: ignore[attr-defined]
    assert completed_event.result == "a-return"  # type: ignore[attr-defined]


def test_run_without_outputs_has_result_none() -> None:
    """O2: no outputs, result None."""

    @executor
    def nothing(n: int) -> None:
        return None

    result = completed(run_in_process(WorkflowBuilder(nothing, name="o2").build(), 1))
    assert result.outputs == []
    assert result.result is None


def test_executor_failure_fails_the_run_naming_the_executor() -> None:
    """E1: ExecutorFailedError, ExecutorFailedEvent, WorkflowFailedEvent; no results applied."""

    @executor
    def start(n: int) -> int:
        return n

    @executor
    def boom(n: int) -> int:
        raise ValueError(f"bad {n}")

    workflow = WorkflowBuilder(start, name="e1").add_edge(start, boom).build()
    result = run_in_process(workflow, 3)
    error = failed(result, ExecutorFailedError)
    assert isinstance(error, ExecutorFailedError)
    assert (error.executor_id, error.error, error.error_type) == ("boom", "bad 3", "ValueError")
    assert [e.type for e in result.events[-2:]] == ["executor_failed", "workflow_failed"]
    assert result.events[-1].executor_id == "boom"  # type: ignore[attr-defined]


def test_no_matching_handler_fails_the_node() -> None:
    """E1: a message no handler accepts fails that node."""

    @executor
    def start(n: int):  # type: ignore[no-untyped-def]
        return "text"

    @executor
    def wants_item(item: Item) -> None:
        return None

    workflow = WorkflowBuilder(start, name="e1").add_edge(start, wants_item).build()
    error = failed(run_in_process(workflow, 1), ExecutorFailedError)
    assert isinstance(error, ExecutorFailedError)
    assert error.executor_id == "wants_item"


def test_retry_policy_retries_in_process() -> None:
    """E1: the executor's RetryPolicy gives it more attempts."""
    calls: list[int] = []

    @executor(retry=RetryPolicy(max_attempts=3))
    def flaky(n: int) -> int:
        calls.append(n)
        if len(calls) < 3:
            raise RuntimeError("not yet")
        return n

    assert completed(run_in_process(WorkflowBuilder(flaky, name="e1").build(), 1)).outputs == [1]
    assert len(calls) == 3


# -- V: events -------------------------------------------------------------------------------


def test_event_order_and_sequence_numbers() -> None:
    """V1: the documented order, sequence numbers 1..n, one run id."""

    @executor
    def start(n: int, ctx: WorkflowContext[int, str]) -> int:
        ctx.add_event({"note": 1})
        ctx.yield_output("y")
        return n

    port = RequestPort("Ask", request_type=int, response_type=int)

    @executor
    def end(n: int) -> int:
        return n + 1

    workflow = (
        WorkflowBuilder(start, name="v1").add_fan_out_edge(start, [port, end]).build()
    )
    result = completed(run_in_process(workflow, 1, responses=lambda e: 10))
    described = [
        (e.type, getattr(e, "executor_id", None) or getattr(e, "port_id", None))
        for e in result.events
    ]
    assert described == [
        ("workflow_started", None),
        ("executor_invoked", "start"),
        ("workflow_output", "start"),
        ("custom", "start"),
        ("executor_completed", "start"),
        ("waiting_for_input", "Ask"),
        ("executor_invoked", "end"),
        ("workflow_output", "end"),
        ("executor_completed", "end"),
        ("response_received", "Ask"),
        ("workflow_output", "Ask"),
        ("workflow_completed", None),
    ]
    assert [e.sequence for e in result.events] == list(range(1, len(result.events) + 1))
    assert {e.run_id for e in result.events} == {"in-process"}
    assert result.outputs == ["y", 2, 10]
