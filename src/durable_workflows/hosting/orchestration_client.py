"""The client side of hand-written orchestrations: start one, send it events, wait for its output.

`WorkflowClient` includes these methods, so ``await host.client.run_orchestration(fn, input)``
works on any host that registers ``fn`` (``DurableWorkflowHost(orchestrations=[fn])``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from ..errors import WorkflowFailedError, WorkflowNotFoundError
from ..values.serialization import to_json
from .waiting import wait_until_ended


def orchestration_name(orchestration: Callable[..., Any] | str) -> str:
    """The registered name of an orchestration function (its ``__name__``), or the name given."""
    return orchestration if isinstance(orchestration, str) else orchestration.__name__


class OrchestrationClientMixin:
    """Hand-written orchestrations through the durabletask async client `_client`."""

    _client: Any

    async def start_orchestration(
        self,
        orchestration: Callable[..., Any] | str,
        input: Any = None,
        *,
        instance_id: str | None = None,
    ) -> str:
        """Start `orchestration` with `input` (JSON, or pydantic models / dataclasses as JSON);
        returns its instance id."""
        instance_id = instance_id or uuid.uuid4().hex
        await self._client.schedule_new_orchestration(
            orchestration_name(orchestration),
            input=None if input is None else to_json(input),
            instance_id=instance_id,
        )
        return instance_id

    async def wait_for_orchestration(
        self, instance_id: str, *, timeout: float | None = None
    ) -> Any:
        """Wait for the orchestration to end and return its output (as JSON data).

        Raises `WorkflowFailedError` if it failed or was terminated, `TimeoutError` after
        `timeout` seconds.
        """
        state = await wait_until_ended(self._client, instance_id, timeout, what="orchestration")
        if state.runtime_status.name == "COMPLETED":
            output = state.serialized_output
            return None if not output else json.loads(output)
        details = state.failure_details
        error = details.message if details else state.runtime_status.name
        raise WorkflowFailedError(instance_id, error)

    async def run_orchestration(
        self,
        orchestration: Callable[..., Any] | str,
        input: Any = None,
        *,
        instance_id: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Start `orchestration` and wait for its output (`start_orchestration`, then
        `wait_for_orchestration`)."""
        started = await self.start_orchestration(orchestration, input, instance_id=instance_id)
        return await self.wait_for_orchestration(started, timeout=timeout)

    async def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Send an external event (e.g. a human's approval) to a running orchestration."""
        await self._client.raise_orchestration_event(
            instance_id, event_name, data=None if data is None else to_json(data)
        )

    async def get_custom_status(self, instance_id: str) -> Any:
        """The orchestration's custom status (set with ``ctx.set_custom_status``), or None."""
        state = await self._client.get_orchestration_state(instance_id)
        if state is None:
            raise WorkflowNotFoundError(f"no orchestration with id {instance_id!r}")
        raw = state.serialized_custom_status
        return None if not raw else json.loads(raw)
