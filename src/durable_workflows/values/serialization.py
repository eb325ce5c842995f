"""JSON envelopes for messages, outputs and state: ``{"type": key, "data": json}``. No pickle.

Each workflow has a `TypeRegistry` of the annotations its nodes declare. A value is encoded
with the key of the most precise declared type it matches, so the receiving side rebuilds the
same Python type (pydantic models, dataclasses, primitives, containers of those). Containers
no declared type covers travel as structural envelopes (a list, tuple, set, ... of envelopes),
so they too come back as what they were.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any, Literal, get_args, get_origin

from pydantic import (
    PydanticSchemaGenerationError,
    PydanticUndefinedAnnotation,
    TypeAdapter,
    ValidationError,
)

from ..errors import SerializationError
from .typing_utils import a_type, is_any, is_json_like, matches, short_name, type_key, union_members

JSON_KEY = "json"
"""The key of values that are plain JSON (no declared type needed to rebuild them)."""

STRUCTURAL_KEYS = frozenset({"list", "tuple", "set", "frozenset", "dict", "mapping"})
"""Keys of envelopes whose data holds envelopes: a list (tuple, set, frozenset) of them, a dict
of them by string key, or (``mapping``) a list of ``[key, value]`` envelope pairs. They are the
`type_key` of the bare containers, which a registry therefore never registers (`is_open`)."""

_CONTAINERS: frozenset[Any] = frozenset({list, tuple, set, frozenset, dict})

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


def json_problem(tp: Any) -> str | None:
    """Why values of annotation `tp` cannot be converted to and from JSON; None if they can."""
    if is_any(tp):
        return None
    try:
        built = adapter(tp)
        if not built.pydantic_complete:  # a model whose annotations name undefined classes
            built.rebuild(raise_errors=True)
    except PydanticSchemaGenerationError as exc:
        found = re.search(r"schema for (.+?)\. ", str(exc))
        culprit = found.group(1).removeprefix("<class '").removesuffix("'>") if found else ""
        return f"pydantic has no JSON form for {culprit or short_name(tp)}"
    except PydanticUndefinedAnnotation as exc:
        return f"it refers to {exc.name!r}, which is not defined"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


def to_json(value: Any, tp: Any = Any) -> Any:
    """`value` as JSON-compatible data, using annotation `tp`."""
    try:
        return adapter(tp).dump_python(value, mode="json")
    except Exception as exc:  # pydantic raises several kinds here
        msg = f"cannot convert {a_type(value)} to JSON as {short_name(tp)}: {exc}"
        raise SerializationError(msg) from exc


def from_json(data: Any, tp: Any, *, strict: bool = False) -> Any:
    """Validate JSON data `data` into annotation `tp`; raises `SerializationError`.

    `strict` refuses conversions JSON would not make (``"yes"`` for a bool, ``1`` for a str)
    while still reading JSON's own spellings (an ISO string for a datetime).
    """
    if is_any(tp):
        return data
    if get_origin(tp) is Literal and not matches(data, tp):  # pydantic would take True for 1
        names = ", ".join(repr(arg) for arg in get_args(tp))
        msg = f"value does not match {short_name(tp)}: {data!r:.100} is none of {names}"
        raise SerializationError(msg)
    try:
        if strict:
            return adapter(tp).validate_json(json.dumps(data), strict=True)
        return adapter(tp).validate_python(data)
    except ValidationError as exc:
        msg = f"value does not match {short_name(tp)}: {field_errors(exc)}"
        raise SerializationError(msg) from exc
    except (TypeError, ValueError) as exc:
        msg = f"value is not JSON: {exc}"
        raise SerializationError(msg) from exc
    except Exception as exc:  # e.g. a dataclass __post_init__ refusing the data
        msg = f"cannot rebuild a {short_name(tp)}: {type(exc).__name__}: {exc}"
        raise SerializationError(msg) from exc


def field_errors(exc: ValidationError, limit: int = 5) -> str:
    """Pydantic's errors as ``field: problem (got value)``, ``; ``-joined (at most `limit`)."""
    errors = exc.errors()
    if not errors:
        return str(exc)
    parts = []
    for error in errors[:limit]:
        where = ".".join(str(part) for part in error.get("loc", ())) or "value"
        got = "" if error.get("type") == "missing" else f" (got {error.get('input')!r:.100})"
        parts.append(f"{where}: {error.get('msg', '')}{got}")
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)


def _contained_types(tp: Any) -> tuple[Any, ...]:
    """The type arguments of a generic annotation (``list[A]`` -> ``(A,)``), else ``()``."""
    if get_origin(tp) is Literal:
        return ()
    metadata = getattr(tp, "__pydantic_generic_metadata__", None) or {}
    args = get_args(tp) or tuple(metadata.get("args") or ())
    return tuple(arg for arg in args if isinstance(arg, type) or get_origin(arg) is not None)


def is_open(tp: Any) -> bool:
    """A bare container, or one parametrised by `Any` only (``dict``, ``list[Any]``, ``dict[str, Any]``).

    Such an annotation says nothing about its items, so it is not used as a key: its values
    travel as structural envelopes, which keep each item's own type.
    """
    origin = get_origin(tp) or tp
    if origin not in _CONTAINERS:
        return False
    item_types = get_args(tp)[1:] if origin is dict else get_args(tp)
    return all(is_any(arg) or arg is Ellipsis for arg in item_types)


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
            if is_open(member):
                for arg in _contained_types(member):
                    self.add(arg)
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
            kind = "list" if isinstance(value, list) else "tuple"
            return {"type": kind, "data": [self.encode(item) for item in value]}
        if isinstance(value, (set, frozenset)):  # in a stable order, whatever the hash seed
            items = sorted((self.encode(item) for item in value), key=json.dumps)
            return {"type": "set" if isinstance(value, set) else "frozenset", "data": items}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {"type": "dict", "data": {k: self.encode(v) for k, v in value.items()}}
            pairs = [[self.encode(k), self.encode(v)] for k, v in value.items()]
            return {"type": "mapping", "data": pairs}
        msg = (
            f"cannot send {a_type(value)}: it is not JSON and its type is not "
            "declared by any node of the workflow. Annotate the executor's return type or input "
            "type with it (pydantic models, dataclasses, primitives, and lists, tuples, sets and "
            "dicts of those)."
        )
        raise SerializationError(msg)

    def decode(self, envelope: Envelope) -> Any:
        """Rebuild the value an envelope carries."""
        if not isinstance(envelope, dict):
            msg = f"expected a typed envelope {{'type': ..., 'data': ...}}, got {envelope!r:.100}"
            raise SerializationError(msg)
        key = envelope.get("type")
        data: Any = envelope.get("data")
        if key in ("None", JSON_KEY):
            return data
        if key in STRUCTURAL_KEYS:
            return self._decode_structural(str(key), data)
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

    def _decode_structural(self, key: str, data: Any) -> Any:
        try:
            if key == "dict":
                return {k: self.decode(v) for k, v in data.items()}
            if key == "mapping":
                return {self.decode(k): self.decode(v) for k, v in data}
            items = [self.decode(item) for item in data]
            return _SEQUENCES[key](items)
        except (AttributeError, TypeError, ValueError) as exc:
            msg = f"malformed {key!r} envelope: {type(exc).__name__}: {exc}"
            raise SerializationError(msg) from exc


_SEQUENCES: dict[str, Any] = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}
