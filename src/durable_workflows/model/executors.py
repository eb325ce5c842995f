"""Executors: `Executor` subclasses with `@handler` methods, and `@executor` functions."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import threading
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin, overload

from ..errors import SerializationError, WorkflowDefinitionError, WorkflowRuntimeError
from ..values.serialization import from_json
from ..values.typing_utils import is_any, is_assignable, matches, short_name, union_members
from .context import InvocationResult, SentMessage, WorkflowContext
from .nodes import Node, NodeKind, check_id
from .policies import RetryPolicy
from .requests import (
    RESPONSE_HANDLER_MARK,
    InfoRequest,
    InfoResponse,
    ResponseHandlerSpec,
)

FuncT = TypeVar("FuncT", bound=Callable[..., Any])

_HANDLER_MARK = "__durable_workflows_handler__"


@dataclass(frozen=True)
class HandlerSpec:
    """A parsed handler: its callable, the message type, the sent types, whether it wants ctx."""

    func: Callable[..., Any]
    input_type: Any
    output_types: tuple[Any, ...]
    yield_types: tuple[Any, ...]
    wants_context: bool
    name: str


def _is_context_annotation(annotation: Any) -> bool:
    origin = get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, WorkflowContext)


def parse_handler(func: Callable[..., Any], *, owner: str, skip_self: bool) -> HandlerSpec:
    """Read a handler's message type, context parameter and output types from its annotations."""
    example = "`def handle(self, message: Order, ctx: WorkflowContext) -> Receipt`"
    signature = _parse_signature(func, owner, skip_self, "handler", ("message",), example)
    return HandlerSpec(
        func=func,
        input_type=signature.message_types[0],
        output_types=signature.output_types,
        yield_types=signature.yield_types,
        wants_context=signature.wants_context,
        name=func.__qualname__,
    )


def parse_response_handler(func: Callable[..., Any], *, owner: str) -> ResponseHandlerSpec:
    """Read a `@response_handler`'s original-request and response types (P11)."""
    example = (
        "`def on_answer(self, original: Question, answer: bool, ctx: WorkflowContext) -> str`"
    )
    signature = _parse_signature(
        func, owner, True, "response handler", ("original request", "response"), example
    )
    request_type, response_type = signature.message_types
    return ResponseHandlerSpec(
        func=func,
        request_type=request_type,
        response_type=response_type,
        output_types=signature.output_types,
        yield_types=signature.yield_types,
        wants_context=signature.wants_context,
        name=func.__qualname__,
    )


@dataclass(frozen=True)
class _Signature:
    message_types: tuple[Any, ...]
    output_types: tuple[Any, ...]
    yield_types: tuple[Any, ...]
    wants_context: bool


def _parse_signature(
    func: Callable[..., Any],
    owner: str,
    skip_self: bool,
    what: str,
    messages: tuple[str, ...],
    example: str,
) -> _Signature:
    try:
        hints = typing.get_type_hints(func)
    except Exception as exc:
        msg = f"{owner}: cannot resolve the annotations of {func.__qualname__}: {exc}"
        raise WorkflowDefinitionError(msg) from exc
    params = list(inspect.signature(func).parameters.values())
    if skip_self:
        params = params[1:]
    message_params = [p for p in params if not _is_context_annotation(hints.get(p.name))]
    context_params = [p for p in params if _is_context_annotation(hints.get(p.name))]
    if len(message_params) != len(messages) or len(context_params) > 1:
        wanted = (
            "one message parameter"
            if len(messages) == 1
            else f"{len(messages)} parameters ({' and '.join(messages)})"
        )
        msg = (
            f"{owner}: {what} {func.__qualname__} must take exactly {wanted} "
            f"and optionally one parameter annotated `WorkflowContext`, e.g. {example}"
        )
        raise WorkflowDefinitionError(msg)
    outputs: list[Any] = []
    returned = hints.get("return", Any)
    if inspect.iscoroutinefunction(func) and get_origin(returned) is typing.Coroutine:
        returned = get_args(returned)[-1]
    outputs += [t for t in union_members(returned) if t is not type(None)]
    context_args: tuple[Any, ...] = ()
    if context_params:
        context_args = get_args(hints[context_params[0].name])
        outputs += (
            [t for t in union_members(context_args[0]) if t is not type(None)]
            if context_args
            else []
        )
    if not outputs and not (returned is type(None) and not context_params):
        outputs = [Any]
    return _Signature(
        message_types=tuple(hints.get(p.name, Any) for p in message_params),
        output_types=tuple(dict.fromkeys(outputs)),
        yield_types=union_members(context_args[1]) if len(context_args) > 1 else (),
        wants_context=bool(context_params),
    )


@overload
def handler(func: FuncT) -> FuncT: ...
@overload
def handler(*, name: str | None = None) -> Callable[[FuncT], FuncT]: ...
def handler(func: Any = None, *, name: str | None = None) -> Any:
    """Mark a method of an `Executor` subclass as a message handler.

    The message type comes from the first parameter's annotation; handlers of one executor are
    tried most specific type first.
    """

    def mark(f: FuncT) -> FuncT:
        setattr(f, _HANDLER_MARK, name or f.__name__)
        return f

    return mark(func) if func is not None else mark


def _depth(tp: Any) -> int:
    """How deep a type sits in the class hierarchy (a Literal sits below its values' types)."""
    origin = get_origin(tp)
    if origin is Literal:
        return 1 + max(_depth(type(value)) for value in get_args(tp))
    base = origin or tp
    return len(base.__mro__) if isinstance(base, type) else 1


def _specificity(spec: HandlerSpec) -> tuple[int, int, int, int]:
    """Sort key of handlers, most specific message type first; ties keep declaration order.

    A subclass before its base, a Literal before its values' type, a type before a union that
    contains it, a parametrised generic (``list[int]``) before the bare one, `Any` last.
    """
    members = union_members(spec.input_type)
    if any(is_any(member) for member in members):
        return (1, 0, 0, 0)
    parametrised = len(members) == 1 and get_origin(spec.input_type) is not None
    return (0, -min(_depth(m) for m in members), len(members), 0 if parametrised else 1)


def run_callable(func: Callable[..., Any], *args: Any) -> Any:
    """Call a sync or async function and return its result (async ones on a private loop)."""
    result = func(*args)
    if not inspect.isawaitable(result):
        return result
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(result))
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["value"] = asyncio.run(_await(result))
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=runner, name="durable-workflows-handler")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


async def _await(awaitable: Any) -> Any:
    return await awaitable


class Executor(Node):
    """Base class for executors with `@handler` methods.

    ```python
    class Uppercase(Executor):
        @handler
        def run(self, text: str, ctx: WorkflowContext[str]) -> None:
            ctx.send_message(text.upper())
    ```
    """

    kind: ClassVar[NodeKind] = "executor"

    def __init__(
        self,
        id: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: timedelta | None = None,
    ) -> None:
        self._id = check_id(id if id is not None else type(self).__name__)
        self._handlers = self._collect_handlers()
        self._response_handlers = self._collect_response_handlers()
        specs: tuple[HandlerSpec | ResponseHandlerSpec, ...] = (
            *self._handlers,
            *self._response_handlers,
        )
        self._input_types = tuple(spec.input_type for spec in self._handlers)
        self._output_types = tuple(dict.fromkeys(t for spec in specs for t in spec.output_types))
        self._yield_types = tuple(dict.fromkeys(t for spec in specs for t in spec.yield_types))
        if timeout is not None and timeout <= timedelta(0):
            msg = f"Executor {self._id!r}: timeout must be positive, got {timeout}"
            raise WorkflowDefinitionError(msg)
        self.retry = retry
        """Retry policy for failures (durable runs; the in-process runner retries at once)."""
        self.timeout = timeout
        """How long one durable invocation may take, retries included."""

    def _collect_handlers(self) -> tuple[HandlerSpec, ...]:
        # A handler is a method name some class of the MRO marked with @handler; like any
        # method, its most derived definition runs (an undecorated override inherits the mark).
        marked = dict.fromkeys(
            attr
            for cls in type(self).__mro__
            for attr, member in vars(cls).items()
            if hasattr(member, _HANDLER_MARK)
        )
        specs: list[HandlerSpec] = []
        for attr in marked:
            member = inspect.getattr_static(type(self), attr)
            if not inspect.isfunction(member):
                continue  # overridden by a non-function (e.g. `run = None`): no longer a handler
            spec = parse_handler(member, owner=f"Executor {self._id!r}", skip_self=True)
            specs.append(dataclasses.replace(spec, func=member.__get__(self, type(self))))
        if not specs:
            msg = (
                f"Executor {self._id!r} ({type(self).__qualname__}) has no handlers; decorate a "
                "method with @handler, e.g. `@handler def run(self, message: str, ctx: "
                "WorkflowContext) -> str`"
            )
            raise WorkflowDefinitionError(msg)
        return tuple(sorted(specs, key=_specificity))

    def _collect_response_handlers(self) -> tuple[ResponseHandlerSpec, ...]:
        marked = dict.fromkeys(
            attr
            for cls in type(self).__mro__
            for attr, member in vars(cls).items()
            if hasattr(member, RESPONSE_HANDLER_MARK)
        )
        specs = []
        for attr in marked:
            member = inspect.getattr_static(type(self), attr)
            if inspect.isfunction(member):
                spec = parse_response_handler(member, owner=f"Executor {self._id!r}")
                specs.append(dataclasses.replace(spec, func=member.__get__(self, type(self))))
        return tuple(specs)

    @property
    def id(self) -> str:
        return self._id

    @property
    def response_handlers(self) -> tuple[ResponseHandlerSpec, ...]:
        """The `@response_handler` methods, in declaration order (P11)."""
        return self._response_handlers

    @property
    def asked_types(self) -> tuple[Any, ...]:
        """The request and response types its response handlers take."""
        return tuple(
            dict.fromkeys(
                t for spec in self._response_handlers for t in (spec.request_type, spec.response_type)
            )
        )

    @property
    def handlers(self) -> tuple[HandlerSpec, ...]:
        """The handlers, most specific message type first."""
        return self._handlers

    @property
    def input_types(self) -> tuple[Any, ...]:
        return self._input_types

    @property
    def output_types(self) -> tuple[Any, ...]:
        return self._output_types

    @property
    def yield_types(self) -> tuple[Any, ...]:
        return self._yield_types

    def select_handler(self, message: Any) -> tuple[HandlerSpec, Any]:
        """The handler for `message` (most specific match first) and the message to pass it."""
        for spec in self._handlers:
            if matches(message, spec.input_type):
                return spec, message
        if len(self._handlers) == 1:
            spec = self._handlers[0]
            try:
                return spec, from_json(message, spec.input_type)
            except SerializationError as exc:
                msg = f"Executor {self._id!r} cannot handle the message it received: {exc}"
                raise WorkflowRuntimeError(msg) from exc
        accepted = ", ".join(short_name(s.input_type) for s in self._handlers)
        msg = (
            f"Executor {self._id!r} has no handler for a message of type "
            f"{type(message).__qualname__} (it handles: {accepted})"
        )
        raise WorkflowRuntimeError(msg)

    def invoke(self, message: Any, ctx: WorkflowContext[Any]) -> InvocationResult:
        """Run the matching handler on `message` (the matching response handler on an
        `InfoResponse`); what it did is recorded in the result."""
        if isinstance(message, InfoResponse):
            answer = self.select_response_handler(message)
            args: tuple[Any, ...] = (message.request, message.response)
            func, wants_context = answer.func, answer.wants_context
        else:
            spec, message = self.select_handler(message)
            args, func, wants_context = (message,), spec.func, spec.wants_context
        returned = run_callable(func, *args, *((ctx,) if wants_context else ()))
        if returned is not None:
            ctx.result.sent.append(SentMessage(returned, None, returned=True))
        for asked in ctx.result.requests:
            self._check_asked(asked)
        return ctx.result

    def select_response_handler(self, answer: InfoResponse) -> ResponseHandlerSpec:
        """The response handler for an answer: the first whose two annotations match."""
        for spec in self._response_handlers:
            if matches(answer.request, spec.request_type) and matches(
                answer.response, spec.response_type
            ):
                return spec
        msg = (
            f"Executor {self._id!r} has no @response_handler for a "
            f"{type(answer.request).__qualname__} request answered with a "
            f"{type(answer.response).__qualname__}"
        )
        raise WorkflowRuntimeError(msg)

    def _check_asked(self, asked: InfoRequest) -> None:
        for spec in self._response_handlers:
            if matches(asked.request, spec.request_type) and is_assignable(
                asked.response_type, spec.response_type
            ):
                return
        msg = (
            f"Executor {self._id!r} asked (ctx.request_info) with a "
            f"{type(asked.request).__qualname__} request and response type "
            f"{short_name(asked.response_type)}, but none of its @response_handler methods takes "
            f"({type(asked.request).__qualname__}, {short_name(asked.response_type)}); add one, "
            f"e.g. `@response_handler def on_answer(self, request: "
            f"{type(asked.request).__qualname__}, answer: {short_name(asked.response_type)}, "
            "ctx: WorkflowContext) -> ...`"
        )
        raise WorkflowRuntimeError(msg)


class FunctionExecutor(Executor):
    """An executor made from a plain (sync or async) function by `@executor`."""

    def __init__(
        self,
        func: Callable[..., Any],
        id: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: timedelta | None = None,
    ) -> None:
        self._func = func
        super().__init__(id if id is not None else func.__name__, retry=retry, timeout=timeout)
        self.__doc__ = func.__doc__

    def _collect_handlers(self) -> tuple[HandlerSpec, ...]:
        owner = f"Executor {self._id!r}"
        return (parse_handler(self._func, owner=owner, skip_self=False),)

    @property
    def func(self) -> Callable[..., Any]:
        """The wrapped function."""
        return self._func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._func(*args, **kwargs)


@overload
def executor(func: Callable[..., Any], /) -> FunctionExecutor: ...
@overload
def executor(
    *, id: str | None = None, retry: RetryPolicy | None = None, timeout: timedelta | None = None
) -> Callable[[Callable[..., Any]], FunctionExecutor]: ...
def executor(
    func: Any = None,
    /,
    *,
    id: str | None = None,
    retry: RetryPolicy | None = None,
    timeout: timedelta | None = None,
) -> Any:
    """Turn a function into an executor; its return value is its message to its successors.

    ```python
    @executor
    def lookup(order_id: str) -> Order: ...

    @executor(id="send-email", retry=RetryPolicy(max_attempts=5), timeout=timedelta(minutes=1))
    async def send(order: Order, ctx: WorkflowContext) -> None: ...
    ```
    """
    if func is not None:
        return FunctionExecutor(func)
    return lambda f: FunctionExecutor(f, id=id, retry=retry, timeout=timeout)
