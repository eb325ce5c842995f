"""Type helpers: canonical type keys, runtime matching, and build-time assignability.

Messages are typed by annotations. These helpers answer three questions without importing
anything but the standard library and pydantic: what is a type's stable name, does a value
match a type, and can values of one type be delivered where another is expected.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

_UNION_TYPES: tuple[Any, ...] = (Union, types.UnionType)


def is_any(tp: Any) -> bool:
    """True for annotations that accept everything (`Any`, `object`, a missing annotation)."""
    return tp is Any or tp is object or tp is None or tp is typing.Any


def union_members(tp: Any) -> tuple[Any, ...]:
    """The members of a union annotation, or `(tp,)` for anything else."""
    if get_origin(tp) in _UNION_TYPES:
        return get_args(tp)
    return (tp,)


def type_key(tp: Any) -> str:
    """A stable, printable name for an annotation, e.g. ``list[app.models.Order]``."""
    if tp is type(None):
        return "None"
    if is_any(tp):
        return "Any"
    origin = get_origin(tp)
    if origin in _UNION_TYPES:
        return " | ".join(type_key(arg) for arg in get_args(tp))
    if origin is Literal:
        return f"Literal[{', '.join(repr(arg) for arg in get_args(tp))}]"
    if origin is not None:
        args = ", ".join(type_key(arg) for arg in get_args(tp))
        return f"{type_key(origin)}[{args}]"
    if isinstance(tp, type):
        if tp.__module__ == "builtins":
            return tp.__qualname__
        return f"{tp.__module__}.{tp.__qualname__}"
    return repr(tp)


def short_name(tp: Any) -> str:
    """A readable name for messages: ``list[Order]`` rather than the fully qualified key."""
    if tp is type(None):
        return "None"
    if is_any(tp):
        return "Any"
    origin = get_origin(tp)
    if origin in _UNION_TYPES:
        return " | ".join(short_name(arg) for arg in get_args(tp))
    if origin is Literal:
        return f"Literal[{', '.join(repr(arg) for arg in get_args(tp))}]"
    if origin is not None:
        return f"{short_name(origin)}[{', '.join(short_name(arg) for arg in get_args(tp))}]"
    return getattr(tp, "__qualname__", repr(tp))


def matches(value: Any, tp: Any) -> bool:
    """Whether `value` is an instance of annotation `tp` (checking container elements)."""
    if is_any(tp):
        return True
    if tp is type(None):
        return value is None
    origin = get_origin(tp)
    if origin in _UNION_TYPES:
        return any(matches(value, arg) for arg in get_args(tp))
    if origin is Literal:  # by type too: `Literal[1]` takes neither `True` nor `1.0`
        return any(type(value) is type(arg) and value == arg for arg in get_args(tp))
    if origin is None:
        if isinstance(tp, type):
            if tp is float and isinstance(value, int) and not isinstance(value, bool):
                return True
            return isinstance(value, tp)
        return False
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        return isinstance(value, (tp, origin))
    if not isinstance(origin, type) or not isinstance(value, origin):
        return False
    args = get_args(tp)
    if not args:
        return True
    if isinstance(value, tuple):
        if len(args) == 2 and args[1] is Ellipsis:
            return all(matches(item, args[0]) for item in value)
        return len(args) == len(value) and all(map(matches, value, args))
    if isinstance(value, collections.abc.Mapping):
        key_type, value_type = args[0], args[-1]
        return all(matches(k, key_type) and matches(v, value_type) for k, v in value.items())
    if isinstance(value, collections.abc.Iterable):
        return all(matches(item, args[0]) for item in value)
    return True


def is_assignable(source: Any, target: Any) -> bool:
    """Whether values of annotation `source` can be delivered to a parameter of `target`."""
    if is_any(source) or is_any(target):
        return True
    if get_origin(source) in _UNION_TYPES:
        return all(is_assignable(arg, target) for arg in get_args(source))
    if get_origin(target) in _UNION_TYPES:
        return any(is_assignable(source, arg) for arg in get_args(target))
    if source is type(None) or target is type(None):
        return source is target
    if get_origin(source) is Literal:
        return all(matches(arg, target) for arg in get_args(source))
    if get_origin(target) is Literal:
        return False
    source_origin = get_origin(source) or source
    target_origin = get_origin(target) or target
    if not (isinstance(source_origin, type) and isinstance(target_origin, type)):
        return bool(source == target)
    if _is_model_generic(source_origin, target_origin):
        return _model_generic_assignable(source, target)
    if target_origin is float and source_origin is int:
        return True
    if not issubclass(source_origin, target_origin):
        return False
    source_args, target_args = get_args(source), get_args(target)
    if not source_args or not target_args:
        return True
    if len(source_args) != len(target_args):
        return len(target_args) == 1 or len(source_args) == 1
    return all(map(is_assignable, source_args, target_args))


def _is_model_generic(source: type, target: type) -> bool:
    return issubclass(source, BaseModel) and issubclass(target, BaseModel)


def _model_generic_assignable(source: Any, target: Any) -> bool:
    """Pydantic generics: ``Resp[Foo]`` fits ``Resp`` and ``Resp[Any]``, not ``Resp[Bar]``."""
    source_meta = getattr(source, "__pydantic_generic_metadata__", {}) or {}
    target_meta = getattr(target, "__pydantic_generic_metadata__", {}) or {}
    source_base = source_meta.get("origin") or source
    target_base = target_meta.get("origin") or target
    if not issubclass(source_base, target_base):
        return False
    target_args = target_meta.get("args") or ()
    source_args = source_meta.get("args") or ()
    if not target_args or not source_args:
        return True
    return all(map(is_assignable, source_args, target_args))


def is_json_like(value: Any) -> bool:
    """Whether `value` is made only of JSON's own types (lists, and dicts with string keys)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, list):
        return all(is_json_like(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_like(v) for k, v in value.items())
    return False


def a_type(value: Any) -> str:
    """`value`'s class name with its article, for messages: ``an int``, ``a dict``."""
    name = type(value).__qualname__
    return f"{'an' if name[:1] in 'aeiouAEIO' else 'a'} {name}"
