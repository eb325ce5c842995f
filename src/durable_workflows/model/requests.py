"""Asking from inside an executor: `ctx.request_info(...)` and `@response_handler` methods.

The Agent Framework's Python form of human input (docs/semantics.md P11). A handler records an
`InfoRequest`; the engine makes it a request like a port's; its response comes back to the
executor as an `InfoResponse`, which goes to the `@response_handler` whose annotations match.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

FuncT = TypeVar("FuncT", bound=Callable[..., Any])

RESPONSE_HANDLER_MARK = "__durable_workflows_response_handler__"


@dataclass(frozen=True)
class InfoRequest:
    """What `ctx.request_info(request, response_type=R)` recorded."""

    request: Any
    response_type: Any


@dataclass(frozen=True)
class InfoResponse:
    """The answer to an `InfoRequest`, on its way back to the executor that asked."""

    request: Any
    response: Any
    response_type: Any


@dataclass(frozen=True)
class ResponseHandlerSpec:
    """A parsed `@response_handler`: the original request's and the response's types."""

    func: Callable[..., Any]
    request_type: Any
    response_type: Any
    output_types: tuple[Any, ...]
    yield_types: tuple[Any, ...]
    wants_context: bool
    name: str


class Asked:
    """What `request_info` returns: awaitable (``await ctx.request_info(...)``), or ignored."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


def response_handler(func: FuncT) -> FuncT:
    """Mark a method of an `Executor` subclass as the handler of responses to its requests.

    ```python
    @response_handler
    def on_review(self, draft: Draft, approved: bool, ctx: WorkflowContext[str]) -> None: ...
    ```
    The first parameter's annotation is the original request's type, the second the
    response's; `ctx.request_info(draft, response_type=bool)` is answered here.
    """
    setattr(func, RESPONSE_HANDLER_MARK, func.__name__)
    return func
