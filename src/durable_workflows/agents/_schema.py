"""JSON schemas for structured output: OpenAI's strict form, and example values for stand-ins."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel


def schema_name(model: type[BaseModel]) -> str:
    """The `json_schema.name` OpenAI wants: ``^[A-Za-z0-9_-]{1,64}$``, from the model name."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", model.__name__).strip("_")
    return (name or "response")[:64]


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in OpenAI's strict form.

    Strict mode needs every object to list all its properties as required and to forbid
    additional properties; optional fields stay optional by allowing ``null`` in their type.
    """
    schema: dict[str, Any] = _strict(model.model_json_schema())
    return schema


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:  # strict mode allows no keywords beside a reference
        return {"$ref": node["$ref"]}
    out = {key: _strict(value) for key, value in node.items() if key != "default"}
    if out.get("type") == "object" and "properties" in out:
        out["additionalProperties"] = False
        out["required"] = list(out["properties"])
    return out


def example_from_schema(schema: dict[str, Any]) -> Any:
    """A simple value valid for `schema`: objects, strings, numbers, booleans, arrays, enums.

    Used by stand-in models to answer a structured-output request without a real model.
    """
    return _example(schema, schema.get("$defs", {}), depth=0)


def _example(node: dict[str, Any], defs: dict[str, Any], *, depth: int) -> Any:
    if depth > 16:
        return None
    if "$ref" in node:
        return _example(defs[node["$ref"].rsplit("/", 1)[-1]], defs, depth=depth + 1)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [o for o in node[key] if o.get("type") != "null"] or node[key]
            return _example(options[0], defs, depth=depth + 1)
    if "allOf" in node:
        return _example(node["allOf"][0], defs, depth=depth + 1)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props: dict[str, Any] = node.get("properties", {})
        return {name: _example(sub, defs, depth=depth + 1) for name, sub in props.items()}
    if kind == "array":
        item = _example(node.get("items", {}), defs, depth=depth + 1)
        return [item] * max(1, int(node.get("minItems", 1)))
    if kind == "string":
        text = "example".ljust(int(node.get("minLength", 0)), "x")
        return text[: int(node.get("maxLength", len(text)))]
    if kind in ("integer", "number"):
        value = (
            node["exclusiveMinimum"] + 1 if "exclusiveMinimum" in node else node.get("minimum", 0)
        )
        value = min(value, node.get("maximum", value))
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    return None
