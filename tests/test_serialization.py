"""JSON envelopes for messages, state and outputs; no pickle (docs/semantics.md J1-J5)."""

from __future__ import annotations

import io
import json
import tokenize
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import durable_workflows
from durable_workflows import (
    AgentResponse,
    SerializationError,
    WorkflowBuilder,
    WorkflowContext,
    executor,
)
from durable_workflows.testing import run_in_process
from durable_workflows.values.serialization import TypeRegistry, from_json, to_json


class Model(BaseModel):
    name: str
    size: int = 0


class Nested(BaseModel):
    inner: Model
    items: list[Model] = []


@dataclass
class Point:
    x: int
    y: int


class Undeclared:
    """A class no node declares and pydantic cannot dump."""


REGISTRY = TypeRegistry([Model, Nested, Point, int, list[Model], dict[str, Model], date])


def round_trip(value: Any, *hints: Any) -> tuple[dict[str, Any], Any]:
    envelope = REGISTRY.encode(value, hints)
    wire = json.loads(json.dumps(envelope))  # really JSON, nothing else
    return envelope, REGISTRY.decode(wire)


def test_pydantic_model() -> None:
    """J1, J2: a model is keyed by its qualified name and rebuilt as the same class."""
    envelope, back = round_trip(Model(name="a", size=2))
    assert envelope == {"type": f"{__name__}.Model", "data": {"name": "a", "size": 2}}
    assert back == Model(name="a", size=2)
    assert type(back) is Model


def test_nested_model() -> None:
    """J2: models inside models."""
    value = Nested(inner=Model(name="i"), items=[Model(name="x"), Model(name="y")])
    _, back = round_trip(value)
    assert back == value
    assert type(back.items[0]) is Model


def test_dataclass() -> None:
    """J2: dataclasses."""
    envelope, back = round_trip(Point(1, 2))
    assert envelope == {"type": f"{__name__}.Point", "data": {"x": 1, "y": 2}}
    assert back == Point(1, 2)
    assert type(back) is Point


@pytest.mark.parametrize("value", ["text", 3, 2.5, True, False, None, [1, "a"], {"k": [1, 2]}])
def test_primitives_and_plain_json(value: Any) -> None:
    """J2: JSON's own values travel as themselves."""
    _, back = round_trip(value)
    assert back == value
    assert type(back) is type(value)


def test_declared_primitive_key() -> None:
    """J1: a declared primitive type keys its values."""
    assert REGISTRY.encode(3) == {"type": "int", "data": 3}
    assert REGISTRY.encode(None) == {"type": "None", "data": None}


def test_declared_non_json_type() -> None:
    """J2: any type pydantic can validate works once declared (here `date`)."""
    envelope, back = round_trip(date(2024, 5, 17))
    assert envelope == {"type": "datetime.date", "data": "2024-05-17"}
    assert back == date(2024, 5, 17)


def test_list_of_models_with_and_without_hint() -> None:
    """J1: `list[Model]` as one typed envelope when declared, else a list of envelopes."""
    value = [Model(name="a"), Model(name="b")]
    envelope, back = round_trip(value, list[Model])
    assert envelope["type"] == f"list[{__name__}.Model]"
    assert back == value and all(type(item) is Model for item in back)
    envelope, back = round_trip(value)
    assert envelope["type"] == "list"
    assert back == value and all(type(item) is Model for item in back)


def test_dict_of_models() -> None:
    """J1, J2: string-keyed dicts of models, with and without a declared dict type."""
    value = {"a": Model(name="a"), "b": Model(name="b")}
    envelope, back = round_trip(value, dict[str, Model])
    assert envelope["type"] == f"dict[str, {__name__}.Model]"
    assert back == value
    envelope, back = round_trip(value)
    assert envelope["type"] == "dict"
    assert back == value and type(back["a"]) is Model


def test_nested_lists_of_models() -> None:
    """J2: lists of lists of models, mixed with dataclasses and JSON."""
    value = [[Model(name="a")], [Model(name="b"), Point(1, 2)], ["plain", 1]]
    _, back = round_trip(value)
    assert back == value
    assert type(back[1][1]) is Point


def test_undeclared_tuples_and_sets_come_back_as_themselves() -> None:
    """J1, J2: a tuple, set or frozenset no declared type covers travels structurally."""
    for value in [(1, "a"), {3, 1, 2}, frozenset({"x"}), (Model(name="m"), {1: "one"})]:
        _, back = round_trip(value)
        assert back == value and type(back) is type(value)
    assert type(round_trip((Model(name="m"), 1))[1][0]) is Model
    registry = TypeRegistry([tuple[int, int]])
    assert registry.decode(registry.encode((1, 2), [tuple[int, int]])) == (1, 2)


def test_unknown_type_is_a_clear_serialization_error() -> None:
    """J2: an undeclared, non-JSON value says what to do."""
    with pytest.raises(SerializationError, match=r"cannot send a Undeclared.*Annotate"):
        REGISTRY.encode(Undeclared())
    with pytest.raises(SerializationError, match="cannot send a Undeclared"):
        REGISTRY.encode([1, Undeclared()])


def test_undeclared_key_when_decoding() -> None:
    """J1: a key the workflow does not declare (e.g. the code changed mid-run)."""
    with pytest.raises(SerializationError, match=r"'other\.Thing', which this workflow does not"):
        REGISTRY.decode({"type": "other.Thing", "data": {}})


def test_invalid_data_for_a_declared_type() -> None:
    """J1: decoding validates the data."""
    with pytest.raises(SerializationError, match=r"does not match Model: size"):
        REGISTRY.decode({"type": f"{__name__}.Model", "data": {"name": "a", "size": "big"}})


def test_to_json_and_from_json_helpers() -> None:
    """J1: the helpers under the envelopes, with their errors."""
    assert to_json(Point(1, 2), Point) == {"x": 1, "y": 2}
    assert from_json({"x": 1, "y": 2}, Point) == Point(1, 2)
    assert from_json({"anything": 1}, Any) == {"anything": 1}
    with pytest.raises(SerializationError, match="does not match int"):
        from_json("x", int)
    with pytest.raises(SerializationError, match="cannot convert a Undeclared"):
        to_json(Undeclared())


def test_workflow_values_keep_their_types_end_to_end() -> None:
    """J3, S6: declared types survive the JSON round trips of a run (messages, state, outputs)."""

    @executor
    def start(n: int, ctx: WorkflowContext[Point]) -> None:
        ctx.set_state("model", Model(name="state"))
        ctx.send_message(Point(n, n))

    @executor
    def to_models(point: Point, ctx: WorkflowContext[list[Model], Any]) -> None:
        assert type(point) is Point
        ctx.yield_output(ctx.get_state("model"))
        ctx.send_message([Model(name="p", size=point.x)])

    @executor
    def end(models: list[Model], ctx: WorkflowContext) -> dict[str, Model]:
        assert type(models[0]) is Model
        assert type(ctx.get_state("model")) is Model
        return {"m": models[0]}

    workflow = WorkflowBuilder(start, name="types").add_chain([start, to_models, end]).build()
    result = run_in_process(workflow, 4)
    assert result.status == "completed", result.error
    assert result.outputs == [Model(name="state"), {"m": Model(name="p", size=4)}]
    assert type(result.outputs[0]) is Model


def test_unserialisable_message_fails_the_sending_node() -> None:
    """J2, E1: sending a value nobody declares fails the node that sent it."""

    @executor
    def start(n: int):  # type: ignore[no-untyped-def]
        return Undeclared()

    @executor
    def sink(x: Any) -> None:
        return None

    workflow = WorkflowBuilder(start, name="bad").add_edge(start, sink).build()
    result = run_in_process(workflow, 1)
    assert result.status == "failed"
    assert result.events[-1].executor_id == "start"  # type: ignore[attr-defined]
    assert "cannot send a Undeclared" in str(result.error)


_FORBIDDEN = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "marshal", "shelve", "jsonpickle"}


def test_no_pickle_anywhere_in_the_package() -> None:
    """J4: no source file of the package names a pickle-like module in code (docstrings aside)."""
    root = Path(durable_workflows.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 10
    offenders = []
    for path in files:
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
        offenders += [
            f"{path.relative_to(root)}:{tok.start[0]}: {tok.string}"
            for tok in tokens
            if tok.type == tokenize.NAME and tok.string in _FORBIDDEN
        ]
    assert offenders == []


def test_declaring_a_generic_declares_the_types_it_contains() -> None:
    """J3: declaring list[Model] / AgentResponse[Model] lets a bare Model travel too."""
    for declared in (list[Model], dict[str, Model], AgentResponse[Model]):
        registry = TypeRegistry([declared])
        envelope = registry.encode(Model(name="m"))
        assert envelope["type"] == f"{__name__}.Model", declared
        assert registry.decode(envelope) == Model(name="m")
