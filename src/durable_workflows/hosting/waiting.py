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
from typing import Any

from ..errors import WorkflowNotFoundError
from .verdicts import ACTIVE

WAIT_MIN, WAIT_MAX = 0.005, 1.0
"""The first and the longest pause between two status reads, in seconds."""

async def wait_until_ended(
    durable_client: Any, instance_id: str, timeout: float | None, *, what: str = "run"
) -> Any:
    """The instance's final state (with payloads) once it has ended.

    Raises `WorkflowNotFoundError` for an unknown instance and `TimeoutError` naming it after
    `timeout` seconds (None: no limit).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = WAIT_MIN
    while True:
        state = await durable_client.get_orchestration_state(instance_id, fetch_payloads=False)
        if state is None:
            raise WorkflowNotFoundError(f"no {what} with id {instance_id!r}")
        if state.runtime_status.name not in ACTIVE:
            break
        pause = delay * random.uniform(0.5, 1.0)
        left = None
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                status = state.runtime_status.name
                raise TimeoutError(f"{what} {instance_id!r} is still {status} after {timeout} s")
            pause = min(pause, left)
        status_change = getattr(durable_client, "status_change", None)
        if status_change is not None:  # an `InProcessClient`: woken by the sidecar, no polling
            await status_change(instance_id, state.runtime_status.value, left)
        else:
            await asyncio.sleep(pause)
        delay = min(WAIT_MAX, delay * 2)
    final = await durable_client.get_orchestration_state(instance_id, fetch_payloads=True)
    if final is None:
        raise WorkflowNotFoundError(f"no {what} with id {instance_id!r}")
    return final
