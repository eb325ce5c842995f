"""JSON envelopes for messages, outputs and state: ``{"type": key, "data": json}``. No pickle.

Each workflow has a `TypeRegistry` of the annotations its nodes declare. A value is encoded
with the key of the most precise declared type it matches, so the receiving side rebuilds the
same Python type (pydantic models, dataclasses, primitives, containers of those).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any, Literal, get_args, get_origin

from pydantic import TypeAdapter, ValidationError

from ..errors import SerializationError
from .typing_utils import is_any, is_json_like, matches, short_name, type_key, union_members

JSON_KEY = "json"
"""The key of values that are plain JSON (no declared type needed to rebuild them)."""

Envelope = dict[str, Any]

_PLAIN: frozenset[type] = frozenset({int, str, bool})
"""Exact types whose JSON form is the value itself: encoded and decoded without pydantic
(the result is what `to_json` / `from_json` would give, at a fraction of the cost)."""


@functools.lru_cache(maxsize=1024)
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def adapter(tp: Any) -> TypeAdapter[Any]:
    """A cached pydantic `TypeAdapter` for an annotation."""
    try:
        return _adapter(tp)
    except TypeError:  # unhashable annotation
        return TypeAdapter(tp)


def to_json(value: Any, tp: Any = Any) -> Any:
    """`value` as JSON-compatible data, using annotation `tp`."""
    try:
        return adapter(tp).dump_python(value, mode="json")
    except Exception as exc:  # pydantic raises several kinds here
        msg = f"cannot convert a {type(value).__qualname__} to JSON as {short_name(tp)}: {exc}"
        raise SerializationError(msg) from exc


def from_json(data: Any, tp: Any, *, strict: bool = False) -> Any:
    """Validate JSON data `data` into annotation `tp`; raises `SerializationError`.

    `strict` refuses conversions JSON would not make (``"yes"`` for a bool, ``1`` for a str)
    while still reading JSON's own spellings (an ISO string for a datetime).
    """
    if is_any(tp):
        return data
    try:
        if strict:
            return adapter(tp).validate_json(json.dumps(data), strict=True)
        return adapter(tp).validate_python(data)
    except (ValidationError, TypeError, ValueError) as exc:
        if not isinstance(exc, ValidationError):
            msg = f"value is not JSON: {exc}"
            raise SerializationError(msg) from exc
        msg = f"value does not match {short_name(tp)}: {_first_line(exc)}"
        raise SerializationError(msg) from exc


def _first_line(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "value"
    return f"{where}: {first.get('msg', '')} (got {first.get('input')!r})"


def _contained_types(tp: Any) -> tuple[Any, ...]:
    """The type arguments of a generic annotation (``list[A]`` -> ``(A,)``), else ``()``."""
    if get_origin(tp) is Literal:
        return ()
    metadata = getattr(tp, "__pydantic_generic_metadata__", None) or {}
    args = get_args(tp) or tuple(metadata.get("args") or ())
    return tuple(arg for arg in args if isinstance(arg, type) or get_origin(arg) is not None)


class TypeRegistry:
    """The annotations a workflow declares, by `type_key`, for encoding and decoding."""

    def __init__(self, annotations: Iterable[Any] = ()) -> None:
        self._by_key: dict[str, Any] = {}
        self._classes: dict[type, str] = {}
        for annotation in annotations:
            self.add(annotation)

    def add(self, annotation: Any) -> None:
        """Register an annotation, the members of a union, and the types a generic contains.

        Declaring ``list[Order]`` (or ``AgentResponse[Order]``) declares ``Order`` too, so an
        ``Order`` can also travel on its own (as shared state, say).
        """
        for member in union_members(annotation):
            if is_any(member) or member is type(None):
                continue
            key = type_key(member)
            if key in self._by_key:
                continue
            self._by_key[key] = member
            if isinstance(member, type):
                self._classes.setdefault(member, key)
            for arg in _contained_types(member):
                self.add(arg)

    def keys(self) -> list[str]:
        """The registered keys, sorted."""
        return sorted(self._by_key)

    def encode(self, value: Any, hints: Iterable[Any] = ()) -> Envelope:
        """Encode `value`; `hints` are the annotations the sender declared, most precise first."""
        if value is None:
            return {"type": "None", "data": None}
        cls = type(value)
        key = self._classes.get(cls)
        if key is not None:
            if cls in _PLAIN:
                return {"type": key, "data": value}
            return {"type": key, "data": to_json(value, cls)}
        for hint in hints:
            for member in union_members(hint):
                if is_any(member) or not matches(value, member):
                    continue
                member_key = type_key(member)
                if member_key in self._by_key:
                    return {"type": member_key, "data": to_json(value, member)}
        if is_json_like(value):
            return {"type": JSON_KEY, "data": to_json(value)}
        if isinstance(value, (list, tuple)):
            return {"type": "list", "data": [self.encode(item) for item in value]}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"type": "dict", "data": {k: self.encode(v) for k, v in value.items()}}
        msg = (
            f"cannot send a {type(value).__qualname__}: it is not JSON and its type is not "
            "declared by any node of the workflow. Annotate the executor's return type or input "
            "type with it (pydantic models, dataclasses, primitives, lists and dicts of those)."
        )
        raise SerializationError(msg)

    def decode(self, envelope: Envelope) -> Any:
        """Rebuild the value an envelope carries."""
        key = envelope.get("type")
        data: Any = envelope.get("data")
        if key in ("None", JSON_KEY):
            return data
        if key == "list":
            return [self.decode(item) for item in data]
        if key == "dict":
            return {k: self.decode(v) for k, v in data.items()}
        tp = self._by_key.get(str(key))
        if tp is None:
            msg = (
                f"received a value of type {key!r}, which this workflow does not declare; "
                "the workflow definition may have changed while the run was in flight"
            )
            raise SerializationError(msg)
        if type(data) is tp and tp in _PLAIN:
            return data
        return from_json(data, tp)
