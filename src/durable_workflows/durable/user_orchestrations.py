"""Hand-written durabletask orchestrations and activities hosted beside workflows and agents.

Each orchestration is wrapped so that `durable_workflows.agents.get_agent(ctx, name)` inside it
finds the host's agent definitions (to pick the turn's path and its response type).
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any

from ..errors import WorkflowDefinitionError
from ..model.agent_protocol import WorkflowAgent

_HOSTED: weakref.WeakKeyDictionary[Any, Mapping[str, WorkflowAgent]] = weakref.WeakKeyDictionary()


def hosted_agents(ctx: Any) -> Mapping[str, WorkflowAgent] | None:
    """The agents of the host running orchestration context `ctx` (None if unknown)."""
    try:
        return _HOSTED.get(ctx)
    except TypeError:  # a context that cannot be weakly referenced
        return None


def function_name(function: object, kind: str) -> str:
    """The registered name of an orchestration or activity function (its ``__name__``)."""
    name = getattr(function, "__name__", None)
    if not callable(function) or not isinstance(name, str) or name == "<lambda>":
        msg = f"{function!r} is not a named function; {kind}s are registered by their __name__"
        raise WorkflowDefinitionError(msg)
    return name


def wrap_orchestration(
    function: Callable[..., Any], agents: Mapping[str, WorkflowAgent]
) -> Callable[[Any, Any], Generator[Any, Any, Any]]:
    """`function` as a durabletask orchestrator that knows the host's `agents`."""
    name = function_name(function, "orchestration")

    def orchestrator(ctx: Any, payload: Any) -> Generator[Any, Any, Any]:
        _HOSTED[ctx] = agents
        result = function(ctx, payload)
        if inspect.isgenerator(result):
            return (yield from result)
        return result

    orchestrator.__name__ = name
    return orchestrator


def check_unique(functions: Iterable[Callable[..., Any]], kind: str) -> None:
    """Refuse two functions registered under one name."""
    seen: dict[str, object] = {}
    for function in functions:
        name = function_name(function, kind)
        if seen.setdefault(name, function) is not function:
            msg = f"two {kind}s are named {name!r}; {kind} names must be unique"
            raise WorkflowDefinitionError(msg)
