"""Tools: typed Python functions an agent's model may call, with a JSON schema from the signature.

`tool(...)` turns a function into a `Tool` (name, description, parameters schema); a plain
function given in ``Agent(tools=[...])`` is turned into one the same way. A call validates the
model's JSON arguments with pydantic, runs the function (sync or async) and gives a `ToolResult`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import re
from collections.abc import Callable
from typing import Any, get_type_hints, overload

import pydantic_core
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ..errors import WorkflowDefinitionError
from ..model.agent_protocol import ToolCall, ToolResult

TOOL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""Tool names as OpenAI accepts them."""


class Tool:
    """A function the model may call. Build one with `tool(...)` or pass the function itself.

    Parameters need type annotations (pydantic types, dataclasses, ``Literal``, defaults,
    ``Annotated[..., Field(description=...)]``); ``*args`` and ``**kwargs`` are refused.
    The description defaults to the docstring's first paragraph.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        if not callable(function):
            msg = f"{function!r} is not a tool: give a function or a @tool-decorated function"
            raise WorkflowDefinitionError(msg)
        self.function = function
        self.name = name if name is not None else getattr(function, "__name__", "")
        if not isinstance(self.name, str) or not TOOL_NAME_PATTERN.match(self.name):
            msg = (
                f"Tool name {self.name!r} is not valid: use 1 to 64 letters, digits, '_' or '-' "
                "(pass @tool(name=...))"
            )
            raise WorkflowDefinitionError(msg)
        doc = inspect.getdoc(function) or ""
        self.description = description if description is not None else doc.split("\n\n")[0]
        self._arguments = _arguments_model(function, self.name)
        self.parameters: dict[str, Any] = self._arguments.model_json_schema()
        self.parameters.pop("title", None)

    def spec(self) -> dict[str, Any]:
        """The ``tools`` entry of a chat-completions request."""
        function: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}

    def invoke(self, call: ToolCall) -> ToolResult:
        """Run the call; a bad argument or an exception becomes an error result, not a raise."""
        try:
            arguments = self._arguments.model_validate_json(call.arguments or "{}")
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '<arguments>'}: {e['msg']}" for e in exc.errors()
            )
            return self._error(call, f"invalid arguments ({problems})")
        values = {name: getattr(arguments, name) for name in type(arguments).model_fields}
        try:
            value = self.function(**values)
            if inspect.isawaitable(value):
                value = _run_coroutine(value)
        except Exception as exc:
            return self._error(call, f"{type(exc).__name__}: {exc}")
        return ToolResult(call_id=call.id, name=self.name, content=result_text(value))

    def _error(self, call: ToolCall, problem: str) -> ToolResult:
        text = f"Error: tool {self.name!r} failed: {problem}"
        return ToolResult(call_id=call.id, name=self.name, content=text, error=True)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly (a decorated tool stays usable as a function)."""
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r})"


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a function a `Tool`: ``@tool`` or ``@tool(name="get_weather", description=...)``."""
    if function is not None:
        return Tool(function)

    def decorate(fn: Callable[..., Any]) -> Tool:
        return Tool(fn, name=name, description=description)

    return decorate


def as_tools(agent_name: str, tools: object) -> tuple[Tool, ...]:
    """`tools` as `Tool` objects with unique names (functions are wrapped)."""
    if isinstance(tools, (str, bytes)) or not hasattr(tools, "__iter__"):
        msg = f"Agent {agent_name!r}: tools must be a list of functions or Tool objects"
        raise WorkflowDefinitionError(msg)
    converted = tuple(t if isinstance(t, Tool) else Tool(t) for t in tools)
    names = [t.name for t in converted]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        msg = f"Agent {agent_name!r}: two tools are named {duplicates[0]!r}; tool names must be unique"
        raise WorkflowDefinitionError(msg)
    return converted


def _arguments_model(function: Callable[..., Any], name: str) -> type[BaseModel]:
    try:
        signature = inspect.signature(function)
        hints = _type_hints(function)
    except (TypeError, ValueError, NameError) as exc:
        msg = f"Tool {name!r}: cannot read the function's signature ({exc})"
        raise WorkflowDefinitionError(msg) from exc
    fields: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            msg = f"Tool {name!r}: *args and **kwargs cannot be described to a model; name each parameter"
            raise WorkflowDefinitionError(msg)
        if parameter.kind is parameter.POSITIONAL_ONLY:
            msg = f"Tool {name!r}: parameter {parameter.name!r} is positional-only; tools are called by keyword"
            raise WorkflowDefinitionError(msg)
        if parameter.name not in hints:
            msg = f"Tool {name!r}: parameter {parameter.name!r} needs a type annotation"
            raise WorkflowDefinitionError(msg)
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hints[parameter.name], default)
    try:
        model: type[BaseModel] = create_model(
            f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
        )
        model.model_json_schema()
    except Exception as exc:  # pydantic raises several kinds for unsupported annotations
        msg = f"Tool {name!r}: its parameters have no JSON schema ({exc})"
        raise WorkflowDefinitionError(msg) from exc
    return model


def _type_hints(function: Callable[..., Any]) -> dict[str, Any]:
    target: Any = function
    if not (inspect.isfunction(function) or inspect.ismethod(function)):
        target = type(function).__call__  # a callable object: its __call__ has the hints
    return get_type_hints(target, include_extras=True)


def result_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(pydantic_core.to_jsonable_python(value))


def _run_coroutine(awaitable: Any) -> Any:
    """Await `awaitable` from synchronous code (in a helper thread if a loop is running here)."""

    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, wait()).result()
