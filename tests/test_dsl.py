"""The DSL: `@executor`, `Executor` + `@handler`, `WorkflowContext`, `RequestPort` (docs/semantics.md D1-D6)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from durable_workflows import (
    Executor,
    RequestPort,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowDefinitionError,
    executor,
    handler,
)
from durable_workflows.model.executors import FunctionExecutor
from durable_workflows.testing import run_in_process


class Animal(BaseModel):
    name: str


class Dog(Animal):
    barks: bool = True


class Puppy(Dog):
    pass


@dataclass
class Point:
    x: int
    y: int


# -- @executor -----------------------------------------------------------------------------


def test_executor_default_id_is_the_function_name_and_types_come_from_annotations() -> None:
    """D1: input type from the first parameter, output type from the return annotation."""

    @executor
    def parse(text: str) -> Point:
        x, y = text.split(",")
        return Point(int(x), int(y))

    assert isinstance(parse, FunctionExecutor)
    assert parse.id == "parse"
    assert parse.input_types == (str,)
    assert parse.output_types == (Point,)
    assert parse("1,2") == Point(1, 2)  # still callable as a function


def test_executor_id_override() -> None:
    """D1: `@executor(id=...)` names the executor."""

    @executor(id="parse-point")
    def parse(text: str) -> str:
        return text

    assert parse.id == "parse-point"


def test_sync_and_async_executors_without_context_return_values_that_flow() -> None:
    """D1, M1: the return value of a sync or async function is its message to its successor."""

    @executor
    def double(n: int) -> int:
        return n * 2

    @executor
    async def plus_one(n: int) -> int:
        await asyncio.sleep(0)
        return n + 1

    @executor
    def show(n: int) -> str:
        return f"={n}"

    workflow = WorkflowBuilder(double, name="flow").add_chain([double, plus_one, show]).build()
    result = run_in_process(workflow, 5)
    assert result.status == "completed"
    assert result.outputs == ["=11"]


def test_async_executor_with_context() -> None:
    """D1: an async handler may take a `WorkflowContext` and use it."""

    @executor
    async def emit(n: int, ctx: WorkflowContext[int, str]) -> None:
        ctx.yield_output(f"got {n}")
        ctx.send_message(n + 1)

    @executor
    def last(n: int) -> int:
        return n

    workflow = WorkflowBuilder(emit, name="ctx").add_edge(emit, last).build()
    result = run_in_process(workflow, 1)
    assert result.outputs == ["got 1", 2]
    assert emit.output_types == (int,)
    assert emit.yield_types == (str,)


def test_async_executor_runs_inside_a_running_event_loop() -> None:
    """D1: async executors also work when the caller already runs an event loop."""

    @executor
    async def square(n: int) -> int:
        await asyncio.sleep(0)
        return n * n

    workflow = WorkflowBuilder(square, name="loop").build()

    async def main() -> Any:
        return run_in_process(workflow, 7).result

    assert asyncio.run(main()) == 49


def test_return_type_and_context_types_are_the_declared_output_types() -> None:
    """D3: outputs = return annotation members (without None) + WorkflowContext[Send] members."""

    @executor
    def a(n: int, ctx: WorkflowContext[str | bytes]) -> int | None:
        return n

    @executor
    def b(n: int) -> None:
        return None

    @executor
    def c(n: int, ctx: WorkflowContext) -> None:
        return None

    @executor
    def d(n):  # type: ignore[no-untyped-def]
        return n

    assert a.output_types == (int, str, bytes)
    assert b.output_types == ()
    assert c.output_types == (Any,)
    assert d.input_types == (Any,)
    assert d.output_types == (Any,)


# -- bad signatures --------------------------------------------------------------------------


def test_executor_without_a_message_parameter_is_refused_naming_it() -> None:
    """D4: a handler needs exactly one message parameter."""
    with pytest.raises(WorkflowDefinitionError, match="no_params"):

        @executor
        def no_params() -> int:
            return 1


def test_executor_with_two_message_parameters_is_refused_naming_it() -> None:
    """D4: two message parameters."""
    with pytest.raises(WorkflowDefinitionError, match=r"'two'.*exactly one message parameter"):

        @executor
        def two(a: int, b: int) -> int:
            return a + b


def test_executor_with_two_context_parameters_is_refused() -> None:
    """D4: at most one `WorkflowContext` parameter."""
    with pytest.raises(WorkflowDefinitionError, match="two_ctx"):

        @executor
        def two_ctx(a: int, c1: WorkflowContext, c2: WorkflowContext) -> None:
            return None


def test_unresolvable_annotation_is_refused_naming_the_function() -> None:
    """D4: annotations that cannot be resolved are a definition error, not a crash later."""
    with pytest.raises(WorkflowDefinitionError, match=r"broken.*annotations"):

        @executor
        def broken(a: NoSuchType) -> int:  # type: ignore[name-defined]  # noqa: F821
            return 1


def test_invalid_executor_id_is_refused() -> None:
    """D4: ids are stable identifiers."""
    with pytest.raises(WorkflowDefinitionError, match="'has space'"):

        @executor(id="has space")
        def f(a: int) -> int:
            return a


def test_executor_class_without_handlers_is_refused_naming_it() -> None:
    """D4: an `Executor` subclass needs at least one @handler."""

    class Empty(Executor):
        def run(self, message: int) -> int:
            return message

    with pytest.raises(WorkflowDefinitionError, match=r"'Empty'.*no handlers"):
        Empty()


def test_handler_with_bad_signature_is_refused_naming_the_method() -> None:
    """D4: a handler method with two message parameters."""

    class Bad(Executor):
        @handler
        def run(self, a: int, b: int) -> int:
            return a + b

    with pytest.raises(WorkflowDefinitionError, match=r"Bad\.run"):
        Bad()


def test_undecorated_function_passed_to_the_builder_is_refused_naming_it() -> None:
    """D4: a plain function is not an executor; the error says to decorate it."""

    def plain(text: str) -> str:
        return text

    with pytest.raises(WorkflowDefinitionError, match=r"'.*plain'.*@executor"):
        WorkflowBuilder(plain, name="wf")  # type: ignore[arg-type]

    @executor
    def start(text: str) -> str:
        return text

    with pytest.raises(WorkflowDefinitionError, match=r"plain.*@executor"):
        WorkflowBuilder(start, name="wf").add_edge(start, plain)  # type: ignore[arg-type]


def test_executor_class_instead_of_instance_is_refused() -> None:
    """D4: passing the class rather than an instance."""

    class Echo(Executor):
        @handler
        def run(self, message: str) -> str:
            return message

    with pytest.raises(WorkflowDefinitionError, match=r"class .*Echo.*Echo\(\)"):
        WorkflowBuilder(Echo, name="wf")  # type: ignore[arg-type]


def test_other_objects_are_refused() -> None:
    """D4: anything that is not an executor, port or agent."""
    with pytest.raises(WorkflowDefinitionError, match="int is not an executor"):
        WorkflowBuilder(42, name="wf")  # type: ignore[arg-type]


def test_non_positive_timeouts_are_refused() -> None:
    """D4: timeouts must be positive."""
    with pytest.raises(WorkflowDefinitionError, match="timeout must be positive"):

        @executor(timeout=timedelta(0))
        def f(a: int) -> int:
            return a

    with pytest.raises(WorkflowDefinitionError, match=r"'Ask'.*timeout must be positive"):
        RequestPort("Ask", timeout=timedelta(seconds=-1))


# -- Executor subclasses ----------------------------------------------------------------------


class Zoo(Executor):
    """Handlers declared base-first and named so that alphabetical order would be wrong."""

    @handler
    def a_animal(self, message: Animal, ctx: WorkflowContext[Any, str]) -> None:
        ctx.yield_output(f"animal:{message.name}")

    @handler
    def b_dog(self, message: Dog, ctx: WorkflowContext) -> str:
        return f"dog:{message.name}"

    @handler
    def c_puppy(self, message: Puppy) -> str:
        return f"puppy:{message.name}"

    @handler
    def d_anything(self, message: object) -> str:
        return f"other:{message!r}"


def test_handlers_dispatch_most_specific_type_first_not_alphabetically() -> None:
    """D2: subclass before base, whatever the declaration order or the names."""
    zoo = Zoo()
    assert [spec.input_type for spec in zoo.handlers] == [Puppy, Dog, Animal, object]
    assert zoo.id == "Zoo"
    assert zoo.select_handler(Puppy(name="p"))[0].name.endswith("c_puppy")
    assert zoo.select_handler(Dog(name="d"))[0].name.endswith("b_dog")
    assert zoo.select_handler(Animal(name="a"))[0].name.endswith("a_animal")
    assert zoo.select_handler(3)[0].name.endswith("d_anything")


def test_handler_dispatch_end_to_end() -> None:
    """D2: the selected handler runs, with or without ctx."""

    class Fan(Executor):
        @handler
        def run(self, message: str, ctx: WorkflowContext[Animal]) -> None:
            for kind in message.split(","):
                cls = {"animal": Animal, "dog": Dog, "puppy": Puppy}[kind]
                ctx.send_message(cls(name=kind))

    fan = Fan()
    workflow = WorkflowBuilder(fan, name="zoo").add_edge(fan, Zoo("zoo")).build()
    result = run_in_process(workflow, "puppy,dog,animal")
    assert result.outputs == ["puppy:puppy", "dog:dog", "animal:animal"]


def test_union_literal_and_generic_handlers_are_ordered_by_specificity() -> None:
    """D2: Literal before its type, a type before a union containing it, list[int] before list."""

    class Mixed(Executor):
        @handler
        def any_list(self, message: list) -> str:  # type: ignore[type-arg]
            return "list"

        @handler
        def int_or_str(self, message: int | str) -> str:
            return "int|str"

        @handler
        def text(self, message: str) -> str:
            return "str"

        @handler
        def spam(self, message: Literal["spam"]) -> str:
            return "spam"

        @handler
        def ints(self, message: list[int]) -> str:
            return "list[int]"

    mixed = Mixed()

    def chosen(message: object) -> str:
        return mixed.select_handler(message)[0].name.rsplit(".", 1)[-1]

    assert chosen("spam") == "spam"
    assert chosen("eggs") == "text"
    assert chosen(3) == "int_or_str"
    assert chosen([1, 2]) == "ints"
    assert chosen(["a"]) == "any_list"


def test_subclass_handler_overrides_base_handler_of_the_same_name() -> None:
    """D2: handlers are inherited; an override replaces the base method."""

    class Base(Executor):
        @handler
        def run(self, message: str) -> str:
            return "base"

    class Child(Base):
        @handler
        def run(self, message: str) -> str:
            return "child"

    child = Child()
    assert len(child.handlers) == 1
    workflow = WorkflowBuilder(child, name="child").build()
    assert run_in_process(workflow, "x").outputs == ["child"]


def test_single_handler_receives_json_converted_message() -> None:
    """D2: with one handler, a dict is converted to the handler's model type."""

    class Takes(Executor):
        @handler
        def run(self, message: Dog) -> str:
            return f"{type(message).__name__}:{message.name}"

    workflow = WorkflowBuilder(Takes(), name="conv").build()
    assert run_in_process(workflow, {"name": "rex"}).outputs == ["Dog:rex"]


# -- WorkflowContext --------------------------------------------------------------------------


def test_workflow_context_records_and_reads() -> None:
    """T1, H1, V1: the context records sends, outputs, events, state and halt; it performs nothing."""
    ctx: WorkflowContext[int, str] = WorkflowContext(
        "node", {"k": 1, "other": "x"}, run_id="run-1", superstep=3
    )
    assert (ctx.executor_id, ctx.run_id, ctx.superstep) == ("node", "run-1", 3)
    ctx.send_message(5)
    ctx.send_message(6, target_id="b")
    ctx.yield_output("out")
    ctx.add_event({"progress": 1})
    assert ctx.get_state("k") == 1
    ctx.set_state("k", 2)
    assert ctx.get_state("k") == 2
    assert ctx.get_state("missing", "dflt") == "dflt"
    assert ctx.get_state("other") == "x"
    ctx.request_halt()
    result = ctx.result
    assert [(m.value, m.target_id, m.returned) for m in result.sent] == [
        (5, None, False),
        (6, "b", False),
    ]
    assert result.outputs == ["out"]
    assert result.events == [{"progress": 1}]
    assert result.state_updates == {"k": 2}
    assert result.halt is True


def test_context_exposes_run_id_and_superstep_to_handlers() -> None:
    """S1, S2: superstep numbers count from 1; the start node runs in superstep 1."""
    seen: list[tuple[str, int]] = []

    @executor
    def first(n: int, ctx: WorkflowContext[int]) -> None:
        seen.append((ctx.run_id, ctx.superstep))
        ctx.send_message(n)

    @executor
    def second(n: int, ctx: WorkflowContext) -> None:
        seen.append((ctx.run_id, ctx.superstep))

    workflow = WorkflowBuilder(first, name="steps").add_edge(first, second).build()
    run_in_process(workflow, 1)
    assert seen == [("in-process", 1), ("in-process", 2)]


# -- RequestPort ------------------------------------------------------------------------------


def test_request_port_declares_its_types() -> None:
    """D5: the request type is the port's input, the response type its output."""
    port = RequestPort("Approve", request_type=Dog, response_type=bool, timeout=timedelta(hours=1))
    assert port.id == "Approve"
    assert port.kind == "port"
    assert port.input_types == (Dog,)
    assert port.output_types == (bool,)
    assert port.timeout == timedelta(hours=1)


def test_request_port_id_must_be_valid() -> None:
    """D4: port ids are stable identifiers."""
    with pytest.raises(WorkflowDefinitionError, match="RequestPort id"):
        RequestPort("no spaces allowed")


def test_ports_and_request_names_are_computed_once() -> None:
    """The orchestrator reads them on every superstep of every replay: rebuilding them from
    every node made a long chain's step cost grow with the chain (2.6x at 2,000 steps)."""
    from durable_workflows import RequestPort, WorkflowBuilder, executor

    port = RequestPort("ok", request_type=int, response_type=bool)

    @executor(id="after")
    def after(answer: bool) -> bool:
        return answer

    workflow = WorkflowBuilder(port, name="CachedPorts").add_edge(port, after).build()
    assert workflow.ports is workflow.ports
    assert list(workflow.ports) == ["ok"]
    assert workflow.request_names is workflow.request_names
    assert workflow.request_names == ("ok",)
