"""gRPC-compatible channels that call the sidecar's servicer directly, in this process.

durabletask's clients and workers accept a ``channel``. These channels hand each request
object to the `Servicer` method of the same name, with a stand-in for the server context: no
socket, no serialisation, no gRPC threads. Errors come back as `grpc.aio.AioRpcError` with the
status code the gRPC server would have sent, so callers cannot tell the difference. The
sidecar's token check is a network guard and does not apply: the caller is in the process.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import grpc.aio

from durable_workflows.sidecar.servicer import Servicer

ASYNC_THREADS = 128
"""Threads of an `AsyncInProcessChannel`: each call in flight (a long wait) holds one, as a
gRPC server thread would."""


def rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    """The error a gRPC client would raise for a call that ended with ``code``."""
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class CallContext:
    """What the servicer uses of `grpc.ServicerContext`, for one in-process call."""

    def __init__(self, timeout: float | None) -> None:
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._active = True
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def time_remaining(self) -> float | None:
        """Seconds to the caller's deadline, None without one."""
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def is_active(self) -> bool:
        """False once the caller cancelled the call."""
        return self._active

    def add_callback(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` when the call is cancelled."""
        with self._lock:
            self._callbacks.append(callback)
        return True

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        """End the call with a status, as `grpc.ServicerContext.abort` does."""
        raise rpc_error(code, details)

    def invocation_metadata(self) -> tuple[Any, ...]:
        """No metadata travels in-process."""
        return ()

    def cancel(self) -> None:
        """The caller gave up: mark the call inactive and run its callbacks."""
        with self._lock:
            self._active = False
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


def _method(servicer: Servicer, path: str) -> Callable[[Any, CallContext], Any]:
    """The servicer method behind a gRPC method path like ``/TaskHubSidecarService/Hello``."""
    handler = getattr(servicer, path.rsplit("/", 1)[-1], None)
    if handler is None:
        return _unimplemented(path)
    return handler  # type: ignore[no-any-return]


def _unimplemented(path: str) -> Callable[[Any, CallContext], Any]:
    def handler(request: Any, context: CallContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"method {path} is not implemented")

    return handler


def invoke(handler: Callable[[Any, CallContext], Any], request: Any, context: CallContext) -> Any:
    """Call a unary handler; an unexpected exception becomes UNKNOWN, as over gRPC."""
    try:
        return handler(request, context)
    except grpc.RpcError:
        raise
    except Exception as exc:
        raise rpc_error(grpc.StatusCode.UNKNOWN, f"Exception calling application: {exc}") from exc


class _Stream:
    """A server-streaming call: iterate it for the responses; `cancel` ends it."""

    def __init__(self, responses: Iterator[Any], context: CallContext) -> None:
        self._responses = responses
        self._context = context

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if not self._context.is_active():
            raise rpc_error(grpc.StatusCode.CANCELLED, "Locally cancelled by application!")
        try:
            return next(self._responses)
        except (StopIteration, grpc.RpcError):
            raise
        except Exception as exc:
            raise rpc_error(grpc.StatusCode.UNKNOWN, f"Exception iterating responses: {exc}") \
                from exc

    def cancel(self) -> bool:
        """Cancel the call."""
        self._context.cancel()
        return True


class InProcessChannel(grpc.Channel):  # type: ignore[misc]
    """A synchronous `grpc.Channel` that calls `servicer` in the calling thread."""

    def __init__(self, servicer: Servicer) -> None:
        self._servicer = servicer

    def unary_unary(self, method: str, request_serializer: Any = None,
                    response_deserializer: Any = None, _registered_method: bool = False) -> Any:
        handler = _method(self._servicer, method)

        def call(request: Any, timeout: float | None = None, **_: Any) -> Any:
            return invoke(handler, request, CallContext(timeout))

        return call

    def unary_stream(self, method: str, request_serializer: Any = None,
                     response_deserializer: Any = None, _registered_method: bool = False) -> Any:
        handler = _method(self._servicer, method)

        def call(request: Any, timeout: float | None = None, **_: Any) -> _Stream:
            context = CallContext(timeout)
            return _Stream(iter(invoke(handler, request, context)), context)

        return call

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the Durable Task protocol has no client-streaming calls")

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the Durable Task protocol has no bidirectional calls")

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        """Connectivity is constant in-process: nothing to report."""

    def unsubscribe(self, callback: Any) -> None:
        """See `subscribe`."""

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> InProcessChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


INLINE_READS = frozenset({"GetInstance"})
"""Reads an async channel answers on the event loop when every staged change is durable."""


class AsyncInProcessChannel(grpc.aio.Channel):  # type: ignore[misc]
    """A `grpc.aio.Channel` that calls `servicer` in threads of its own.

    The servicer blocks (commits, long waits), so calls run outside the event loop. A call the
    caller cancels is cancelled for the servicer too. The exception: a status read
    (`INLINE_READS`) made while no change waits for its commit cannot block, so it is answered
    at once on the caller's thread (a hop to a pool thread and back costs 0.1-0.3 ms, most of
    a status read); if a change was staged meanwhile, it is answered from a pool thread after
    that change's commit, as any read.
    """

    def __init__(self, servicer: Servicer, threads: int = ASYNC_THREADS) -> None:
        self._servicer = servicer
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="dw-inproc-client")

    async def _run(self, function: Callable[..., Any], *args: Any,
                   context: CallContext) -> Any:
        future = asyncio.get_running_loop().run_in_executor(self._pool, function, *args)
        try:
            return await future
        except asyncio.CancelledError:
            context.cancel()
            raise

    def unary_unary(self, method: str, request_serializer: Any = None,
                    response_deserializer: Any = None, _registered_method: bool = False) -> Any:
        handler = _method(self._servicer, method)
        name = method.rsplit("/", 1)[-1]
        read = getattr(handler, "__wrapped__", None) if name in INLINE_READS else None
        engine = self._servicer.engine

        async def call(request: Any, timeout: float | None = None, **_: Any) -> Any:
            context = CallContext(timeout)
            if read is not None and engine.settled():
                response = invoke(functools.partial(read, self._servicer), request, context)
                if engine.settled():  # what it read is durable
                    return response
            return await self._run(invoke, handler, request, context, context=context)

        return call

    def unary_stream(self, method: str, request_serializer: Any = None,
                     response_deserializer: Any = None, _registered_method: bool = False) -> Any:
        handler = _method(self._servicer, method)

        async def responses(request: Any, timeout: float | None) -> AsyncIterator[Any]:
            context = CallContext(timeout)
            collected = await self._run(
                lambda: list(_Stream(iter(invoke(handler, request, context)), context)),
                context=context)
            for response in collected:
                yield response

        def call(request: Any, timeout: float | None = None, **_: Any) -> AsyncIterator[Any]:
            return responses(request, timeout)

        return call

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the Durable Task protocol has no client-streaming calls")

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the Durable Task protocol has no bidirectional calls")

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        """Always ready."""
        return grpc.ChannelConnectivity.READY

    async def wait_for_state_change(self, last_observed_state: Any) -> None:
        """The state never changes."""
        raise NotImplementedError("an in-process channel is always READY")

    async def channel_ready(self) -> None:
        """Ready at once."""

    async def close(self, grace: float | None = None) -> None:
        """Stop accepting calls; calls in flight end on their own."""
        self.shutdown()

    def shutdown(self) -> None:
        """`close`, callable without an event loop."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> AsyncInProcessChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
