"""Waiting for an orchestration to end without holding a backend thread.

durabletask's ``wait_for_orchestration_completion`` is a blocking RPC: on the embedded sidecar
each waiter holds one of its threads until the instance ends, so enough concurrent waiters
starve the workers' own calls. Every wait of the library's clients polls the status instead,
with jittered exponential backoff, and reads the payloads once, at the end. A client of the
in-process transport is woken by the sidecar when the status changes instead of polling.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import WorkflowNotFoundError
from .verdicts import ACTIVE, verdict

WAIT_MIN, WAIT_MAX = 0.005, 1.0
"""The first and the longest pause between two status reads, in seconds."""
VERDICT_MIN, VERDICT_MAX = 0.001, 0.25
"""The same, while a response waits for the run's verdict: a run judges a response within
milliseconds of its arrival, so look early, then back off."""


async def pause_for_change(
    durable_client: Any, state: Any, pause: float, left: float | None, *, custom: bool = False
) -> None:
    """Sleep `pause` seconds before the next status read, or, on an `InProcessClient`, until
    the sidecar says the status (with `custom`, or the custom status) changed from `state`'s
    (at most `left` seconds, and at most `WAIT_MAX`, so that a caller re-reads now and then
    whatever happens)."""
    state_change = getattr(durable_client, "state_change", None)
    if state_change is not None:
        await state_change(state, WAIT_MAX if left is None else min(left, WAIT_MAX), custom=custom)
    else:
        await asyncio.sleep(pause)


async def watch(
    read: Callable[[], Awaitable[Any]],
    done: Callable[[Any], bool],
    durable_client: Any,
    timeout: float | None,
    *,
    first: float = WAIT_MIN,
    longest: float = WAIT_MAX,
    custom: bool = False,
) -> tuple[Any, bool]:
    """Read a state with `read` until `done` accepts it: ``(state, True)``; or ``(the last
    state, False)`` once `timeout` seconds passed (None: no limit). Between reads it pauses
    with jittered exponential backoff from `first` to `longest` seconds (`pause_for_change`:
    on an `InProcessClient`, until the state changes)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = first
    while True:
        state = await read()
        if done(state):
            return state, True
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return state, False
        pause = delay * random.uniform(0.5, 1.0)
        if left is not None:
            pause = min(pause, left)
        await pause_for_change(durable_client, state, pause, left, custom=custom)
        delay = min(longest, delay * 2)


async def _read_state(
    durable_client: Any, instance_id: str, what: str, *, payloads: bool
) -> Any:
    state = await durable_client.get_orchestration_state(instance_id, fetch_payloads=payloads)
    if state is None:
        raise WorkflowNotFoundError(f"no {what} with id {instance_id!r}")
    return state


async def wait_until_ended(
    durable_client: Any, instance_id: str, timeout: float | None, *, what: str = "run"
) -> Any:
    """The instance's final state (with payloads) once it has ended.

    Raises `WorkflowNotFoundError` for an unknown instance and `TimeoutError` naming it after
    `timeout` seconds (None: no limit).
    """
    state, ended = await watch(
        lambda: _read_state(durable_client, instance_id, what, payloads=False),
        lambda s: s.runtime_status.name not in ACTIVE,
        durable_client,
        timeout,
    )
    if not ended:
        status = state.runtime_status.name
        raise TimeoutError(f"{what} {instance_id!r} is still {status} after {timeout} s")
    return await _read_state(durable_client, instance_id, what, payloads=True)


async def wait_for_verdict(
    durable: Any, run_id: str, request_id: str, token: str, timeout: float | None
) -> None:
    """Poll the run until it took (return) or refused (raise) the response sent with `token`."""
    _, decided = await watch(
        lambda: _read_state(durable, run_id, "run", payloads=True),
        lambda s: verdict(s, run_id, request_id, token),
        durable,
        timeout,
        first=VERDICT_MIN,
        longest=VERDICT_MAX,
        custom=True,
    )
    if not decided:
        msg = (
            f"run {run_id!r} did not take or refuse the response to {request_id!r} within "
            f"{timeout} s; it stays queued (sending it again is safe)"
        )
        raise TimeoutError(msg)
