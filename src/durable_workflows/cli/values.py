"""Values typed on the command line: JSON, or bare text where a string is expected.

One rule for ``--input``, ``respond`` and the terminal prompt: the text is read as JSON; where
that is not a valid value but the text itself, as a string, is (a ``str``, an enum or literal
value, a date...), the text is taken, so ``B-7`` needs no quotes. Otherwise it is refused with
the JSON shape the type expects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import SerializationError
from ..values.serialization import adapter, from_json
from ..values.typing_utils import is_any, matches, short_name
from .targets import UsageError

_JSON_TYPES = {"string": "string", "integer": "integer", "number": "number", "null": "null"}


def fits(value: Any, types: Sequence[Any]) -> bool:
    """Whether JSON `value` is valid for one of `types` (as a response would be checked)."""
    for tp in types:
        if is_any(tp) or matches(value, tp):
            return True
        try:
            from_json(value, tp, strict=True)
        except SerializationError:
            continue
        return True
    return False


def parse_value(text: str, types: Sequence[Any], what: str) -> Any:
    """`text` as a value for `types` (see the module rule); `UsageError` naming `what` if not."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if fits(text, types):
            return text
        names = " | ".join(short_name(tp) for tp in types)
        shapes = " or ".join(json_shape(tp) for tp in types)
        msg = (
            f"{what} is not valid JSON ({exc.msg}, column {exc.colno}) nor a valid {names}: "
            f"{text!r:.200}; give it as JSON: {shapes}"
        )
        raise UsageError(msg) from None
    if not fits(value, types) and fits(text, types):
        return text  # `42` or `true` where a string is expected: the text as typed
    return value


def json_shape(tp: Any) -> str:
    """The JSON a type takes, compactly: ``{"approved": boolean, "comment"?: string}``."""
    if is_any(tp):
        return "any JSON"
    try:
        schema = adapter(tp).json_schema()
    except Exception:  # a type pydantic cannot describe: name it
        return short_name(tp)
    return _shape(schema, schema.get("$defs", {}), depth=0)


def _shape(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> str:
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_shape(s, defs, depth) for s in schema[key])
    kind = schema.get("type")
    if kind == "boolean":
        return "true | false"
    if kind in _JSON_TYPES:
        return _JSON_TYPES[kind]
    if kind == "array":
        items = schema.get("prefixItems") or [schema.get("items", {})]
        return "[" + ", ".join(_shape(s, defs, depth + 1) for s in items) + ", ...]"
    if kind == "object" and "properties" in schema:
        if depth > 2:
            return "{...}"
        required = set(schema.get("required", ()))
        fields = [
            f'"{name}"{"" if name in required else "?"}: {_shape(prop, defs, depth + 1)}'
            for name, prop in schema["properties"].items()
        ]
        return "{" + ", ".join(fields) + "}"
    if kind == "object":
        return "{...}"
    return "any JSON"
