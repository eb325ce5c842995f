"""The OpenAPI document: the generic routes, plus a typed run and respond path per workflow.

Each workflow's input and each of its ports' response types become components named
``<Workflow>.<Model>`` (so two workflows' models never collide), and
``/api/workflows/<Workflow>/run`` and ``.../respond/{runId}`` document them as request bodies.
"""

from __future__ import annotations

import copy
from typing import Any, Union

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter

from ..graph.workflow import Workflow
from ..values.serialization import adapter
from ..values.typing_utils import is_any
from .agent_stream import EVENTS, STREAM_PATH
from .models import ErrorBody
from .sse import MEDIA_TYPE

SECURITY_SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "bearer": {"type": "http", "scheme": "bearer"},
}


def build_openapi(app: FastAPI, workflows: list[Workflow], *, secured: bool) -> dict[str, Any]:
    """The app's OpenAPI document with every workflow's input and response schemas."""
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    paths = document["paths"]
    run_op = paths["/api/workflows/{name}/run"]["post"]
    respond_op = paths["/api/workflows/{name}/respond/{run_id}"]["post"]
    for workflow in workflows:
        schemas = _schemas(workflow, components)
        run = _concrete(run_op, workflow, "run")
        run["requestBody"] = _body(schemas["input"], "The workflow input.")
        paths[f"/api/workflows/{workflow.name}/run"] = {"post": run}
        if workflow.ports:
            respond = _concrete(respond_op, workflow, "respond")
            variants = [
                {
                    "type": "object",
                    "title": f"{port_id} response",
                    "properties": {
                        "requestId": {"type": "string", "description": f"A {port_id} request."},
                        "response": schemas[port_id],
                    },
                    "required": ["requestId", "response"],
                }
                for port_id in workflow.ports
            ]
            body = variants[0] if len(variants) == 1 else {"oneOf": variants}
            respond["requestBody"] = _body(body, "The answer to a waiting request.")
            paths[f"/api/workflows/{workflow.name}/respond/{{run_id}}"] = {"post": respond}
    _describe_agent_streams(document)
    if secured:
        components_root = document["components"]
        components_root["securitySchemes"] = SECURITY_SCHEMES
        document["security"] = [{"apiKey": []}, {"bearer": []}]
        document["paths"]["/health"]["get"]["security"] = []
    return document


def _describe_agent_streams(document: dict[str, Any]) -> None:
    """The data of the agent stream events, as components, under both stream routes."""
    components = document["components"]["schemas"]
    refs = []
    models: tuple[type[BaseModel], ...] = (*EVENTS.values(), ErrorBody)
    for model in models:
        schema = model.model_json_schema(
            by_alias=True, mode="serialization", ref_template="#/components/schemas/{model}"
        )
        for name, definition in schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components[model.__name__] = schema
        refs.append({"$ref": f"#/components/schemas/{model.__name__}"})
    names = ", ".join(f"`{event}` {model.__name__}" for event, model in EVENTS.items())
    events = {
        "description": f"Server-Sent Events; the data of each: {names}, `error` ErrorBody.",
        "oneOf": refs,
    }
    for path, verb in (("/api/agents/{name}/run", "post"), (STREAM_PATH, "get")):
        content = document["paths"][path][verb]["responses"]["200"]["content"]
        content[MEDIA_TYPE] = {"schema": events}


def _schemas(workflow: Workflow, components: dict[str, Any]) -> dict[str, Any]:
    """JSON schemas of the workflow input (``input``) and of each port's response type."""
    types: dict[str, Any] = {"input": _union(workflow.input_types)}
    types.update({port_id: port.response_type for port_id, port in workflow.ports.items()})
    known = {key: tp for key, tp in types.items() if not is_any(tp)}
    try:
        found, definitions = TypeAdapter.json_schemas(
            [(key, "validation", adapter(tp)) for key, tp in known.items()],
            ref_template=f"#/components/schemas/{workflow.name}.{{model}}",
        )
    except Exception:  # a type pydantic cannot describe: document it as any JSON value
        return {key: {} for key in types}
    for name, schema in definitions.get("$defs", {}).items():
        components[f"{workflow.name}.{name}"] = schema
    return {key: found.get((key, "validation"), {}) for key in types}


def _union(types: tuple[Any, ...]) -> Any:
    if not types or any(is_any(t) for t in types):
        return Any
    return types[0] if len(types) == 1 else Union[types]  # noqa: UP007 (a runtime union)


def _concrete(operation: dict[str, Any], workflow: Workflow, verb: str) -> dict[str, Any]:
    """A copy of a generic ``{name}`` operation for one workflow."""
    op = copy.deepcopy(operation)
    op["parameters"] = [p for p in op.get("parameters", []) if p.get("name") != "name"]
    op["operationId"] = f"{verb}_{workflow.name}"
    op["summary"] = f"{verb.capitalize()} {workflow.name}"
    if workflow.description:
        op["description"] = workflow.description
    op["tags"] = [f"workflow: {workflow.name}"]
    return op


def _body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "required": True,
        "content": {"application/json": {"schema": schema}},
    }
