"""Hypothesis strategies for a workflow's inputs and a port's responses.

`values_for(annotation)` draws values of an annotation the way messages travel (J2): pydantic
models (their field constraints respected), dataclasses, enums, ``Literal``, primitives,
``None``, unions, and lists, tuples and string-keyed dicts of those; ``Any`` draws JSON data.
Floats are finite and strings printable, so every value survives the JSON round trip.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import enum
import types
import typing
from typing import Annotated, Any, Literal, get_args, get_origin

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument, ResolutionFailed
from pydantic import BaseModel, ValidationError

from ..errors import DurableWorkflowsError
from ..graph.workflow import Workflow
from ..model.ports import RequestPort
from ..values.serialization import adapter
from ..values.typing_utils import is_any, short_name

MAX_ITEMS = 4
"""Longest list or dict drawn (keeps runs small; hypothesis shrinks towards empty)."""

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
_FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)
_PRIMITIVES: dict[Any, st.SearchStrategy[Any]] = {
    bool: st.booleans(),
    int: st.integers(),
    float: _FLOATS,
    str: _TEXT,
    type(None): st.none(),
    datetime.datetime: st.datetimes(),
    datetime.date: st.dates(),
    datetime.timedelta: st.timedeltas(),
}


class NoStrategyError(DurableWorkflowsError):
    """There is no way to draw values of an annotation; pass a strategy yourself."""


def json_values() -> st.SearchStrategy[Any]:
    """Plain JSON data: null, booleans, numbers, strings, and lists and dicts of them."""
    scalars = st.none() | st.booleans() | st.integers() | _FLOATS | _TEXT
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=MAX_ITEMS)
        | st.dictionaries(_TEXT, inner, max_size=MAX_ITEMS),
        max_leaves=8,
    )


def values_for(annotation: Any) -> st.SearchStrategy[Any]:
    """A strategy for values of `annotation` that a workflow can carry (J2)."""
    return _Builder().strategy(annotation)


def inputs_for(workflow: Workflow) -> st.SearchStrategy[Any]:
    """Inputs `workflow`'s start node accepts (any of its input types)."""
    try:
        return st.one_of([values_for(tp) for tp in workflow.input_types])
    except NoStrategyError as exc:
        msg = f"workflow {workflow.name!r}: cannot draw inputs for {workflow.start_id!r}: {exc}"
        raise NoStrategyError(msg) from exc


def responses_for(port: RequestPort) -> st.SearchStrategy[Any]:
    """Responses `port` accepts (values of its response type)."""
    try:
        return values_for(port.response_type)
    except NoStrategyError as exc:
        raise NoStrategyError(f"request port {port.id!r}: {exc}") from exc


class _Builder:
    """Builds one strategy; recursive models and dataclasses go through `st.deferred`."""

    def __init__(self) -> None:
        self._deferred: dict[Any, st.SearchStrategy[Any]] = {}
        self._built: dict[Any, st.SearchStrategy[Any]] = {}

    def strategy(self, tp: Any) -> st.SearchStrategy[Any]:
        if is_any(tp):
            return json_values()
        if tp in _PRIMITIVES:
            return _PRIMITIVES[tp]
        origin, args = get_origin(tp), get_args(tp)
        if origin in (typing.Union, types.UnionType):
            return st.one_of([self.strategy(arg) for arg in args])
        if origin is Literal:
            return st.sampled_from(args)
        if origin is Annotated:
            return self._annotated(tp, args[0], tp.__metadata__)
        if origin in (list, tuple, dict) or _is_abc(origin):
            return self._container(tp, origin, args)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return st.sampled_from(list(tp))
        if isinstance(tp, type) and (issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp)):
            return self._record(tp)
        return _from_type(tp)

    def _container(self, tp: Any, origin: Any, args: tuple[Any, ...]) -> st.SearchStrategy[Any]:
        if origin is dict or (_is_abc(origin) and len(args) == 2):
            key = args[0] if args else str
            if key is not str and get_origin(key) is not Literal:
                raise NoStrategyError(f"{short_name(tp)}: JSON objects need string keys")
            value = self.strategy(args[1]) if args else json_values()
            return st.dictionaries(self.strategy(key), value, max_size=MAX_ITEMS)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return st.tuples(*[self.strategy(arg) for arg in args])
        items = st.lists(self.strategy(args[0]) if args else json_values(), max_size=MAX_ITEMS)
        return items.map(tuple) if origin is tuple else items

    def _annotated(self, tp: Any, base: Any, metadata: tuple[Any, ...]) -> st.SearchStrategy[Any]:
        strategy = self.strategy(base)
        if base in _PRIMITIVES:
            # hypothesis reads annotated-types constraints (pydantic's Field(gt=...) holds them)
            flat = [m for item in metadata for m in getattr(item, "metadata", [item])]
            with contextlib.suppress(ResolutionFailed, InvalidArgument):
                strategy = st.from_type(Annotated[(base, *flat)])  # type: ignore[arg-type]
        check = adapter(tp)
        return strategy.filter(lambda value: _valid(check, value))

    def _record(self, cls: type) -> st.SearchStrategy[Any]:
        if cls in self._built:
            return self._built[cls]
        if cls in self._deferred:  # a recursive model: resolved once it is built
            return self._deferred[cls]
        self._deferred[cls] = st.deferred(lambda: self._built[cls])
        fields = _fields(cls)
        drawn = st.fixed_dictionaries({name: self.strategy(tp) for name, tp in fields.items()})
        built = drawn.map(lambda kwargs: _construct(cls, kwargs)).filter(
            lambda value: value is not _INVALID
        )
        self._built[cls] = built
        return built


_INVALID = object()


def _construct(cls: type, kwargs: dict[str, Any]) -> Any:
    try:
        return cls(**kwargs)
    except (ValidationError, ValueError, TypeError):
        return _INVALID  # a validator refused the combination: hypothesis draws again


def _fields(cls: type) -> dict[str, Any]:
    """Field name -> annotation (with its pydantic constraints) of a model or dataclass."""
    if issubclass(cls, BaseModel):
        return {
            name: Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            for name, info in cls.model_fields.items()
        }
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]


def _valid(check: Any, value: Any) -> bool:
    try:
        check.validate_python(value)
    except ValidationError:
        return False
    return True


def _is_abc(origin: Any) -> bool:
    import collections.abc as abc

    return origin in (abc.Sequence, abc.MutableSequence, abc.Mapping, abc.MutableMapping)


def _from_type(tp: Any) -> st.SearchStrategy[Any]:
    try:
        strategy = st.from_type(tp)
        strategy.validate()
    except (ResolutionFailed, InvalidArgument, TypeError) as exc:
        msg = (
            f"no strategy for {short_name(tp)}; pass one yourself (e.g. inputs=st.builds(...)) "
            "or register one with hypothesis.strategies.register_type_strategy"
        )
        raise NoStrategyError(msg) from exc
    return strategy
