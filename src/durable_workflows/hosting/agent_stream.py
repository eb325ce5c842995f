"""Reading a streamed agent turn: ``async for update in agent.run_stream("Hi", thread=t)``.

The deltas are stored in the stream's entity as the model produces them (see
`durable.agent_stream`), so a reader that stops can resume later, from any process, with
``agent.resume_stream(stream_id, cursor=last.cursor)`` and gets every later delta once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..durable.agent_stream import STREAM_RETENTION
from ..durable.names import AGENT_STREAM_ENTITY
from ..errors import DurableWorkflowsError, WorkflowNotFoundError
from ..model.agent_protocol import AgentResponse
from ..values.serialization import TypeRegistry

_POLL_MIN, _POLL_MAX = 0.01, 0.2
EXPIRY_GRACE = timedelta(minutes=1)
"""A finished turn whose stored deltas are missing this long after it ended has expired (its
stream entity deleted itself, see `durable.agent_stream.STREAM_RETENTION`); a reader then gets
an error instead of waiting for deltas that will never come."""


@dataclass(frozen=True)
class AgentStreamUpdate:
    """One stored item of a stream: a piece of reply `text`, or a `restart`.

    `cursor` is its position (1, 2, ...); resume after it with ``resume_stream(id, cursor)``.
    A `restart` (text ``""``) means a model call was repeated after a crash: drop the text of
    the current reply received so far; the repeated call's text follows.
    """

    cursor: int
    text: str
    restart: bool = False


class AgentStream:
    """The updates of one streamed turn, as an async iterator; `response()` gives the result.

    The turn starts on the first iteration (or `response()`, or `start()`), unless it was
    started before (`resume_stream`).
    """

    def __init__(
        self,
        durable_client: Any,
        stream_id: str,
        response_type: type[AgentResponse[Any]],
        *,
        cursor: int = 0,
        start: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._client = durable_client
        self.stream_id = stream_id
        self.cursor = cursor
        """The cursor of the last update delivered (0 before the first)."""
        self._registry = TypeRegistry([response_type])
        self._start = start
        self._items: list[dict[str, Any]] = []
        self._result: dict[str, Any] | None = None
        self._failure: str | None = None
        self._ended_at: datetime | None = None
        self._stored = False
        self._delay = _POLL_MIN

    def __aiter__(self) -> AgentStream:
        return self

    async def __anext__(self) -> AgentStreamUpdate:
        await self.start()
        while True:
            if self.cursor < len(self._items):
                item = self._items[self.cursor]
                self.cursor += 1
                self._delay = _POLL_MIN
                return AgentStreamUpdate(
                    self.cursor, str(item.get("text", "")), bool(item.get("restart"))
                )
            if self._failure is not None:
                raise DurableWorkflowsError(self._failure)
            if self._result is not None and self._all_stored():
                raise StopAsyncIteration
            if self._expired():
                raise DurableWorkflowsError(
                    f"agent stream {self.stream_id!r} has expired: its deltas were deleted "
                    f"{STREAM_RETENTION} after they were produced; read the reply with response() "
                    "or the thread's history instead"
                )
            await self._refresh()

    async def response(self, timeout: float | None = None) -> AgentResponse[Any]:
        """Wait for the turn to end and return its `AgentResponse` (raises if it failed)."""
        await self.start()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._result is None:
            if self._failure is not None:
                raise DurableWorkflowsError(self._failure)
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"stream {self.stream_id!r} did not end within {timeout} s")
            await self._refresh(items=False)
        response: AgentResponse[Any] = self._registry.decode(self._result["response"])
        return response

    async def start(self) -> None:
        """Start the turn now, if this stream starts it and has not yet (else nothing)."""
        if self._start is not None:
            start, self._start = self._start, None
            await start()

    def _all_stored(self) -> bool:
        """True once every delta of the turn's last model call is stored (nothing follows)."""
        assert self._result is not None
        final = self._result["stream"]
        stored = sum(
            1
            for item in self._items
            if "text" in item
            and item["step"] == final["step"]
            and item["attempt"] == final["attempt"]
        )
        count: int = final["count"]
        return stored >= count

    async def _refresh(self, *, items: bool = True) -> None:
        """Read the stored items and the turn's status; wait a little if nothing changed."""
        before = len(self._items)
        if items:
            self._items = await self._read_items()
        if self._result is None and self._failure is None:
            await self._read_result()
        if len(self._items) == before and self._failure is None:
            await asyncio.sleep(self._delay)
            self._delay = min(_POLL_MAX, self._delay * 2)

    def _expired(self) -> bool:
        """True when the turn ended over `EXPIRY_GRACE` ago and its deltas are gone."""
        if self._result is None or self._stored or self._ended_at is None:
            return False
        return datetime.now(timezone.utc) - self._ended_at > EXPIRY_GRACE

    async def _read_items(self) -> list[dict[str, Any]]:
        from durabletask.entities import EntityInstanceId

        entity = EntityInstanceId(AGENT_STREAM_ENTITY, self.stream_id)
        metadata = await self._client.get_entity(entity, include_state=True)
        raw = None if metadata is None else metadata.get_state()
        if not raw:
            return self._items
        self._stored = True
        state = json.loads(raw) if isinstance(raw, str) else raw
        items: list[dict[str, Any]] = state["items"]
        return items

    async def _read_result(self) -> None:
        state = await self._client.get_orchestration_state(self.stream_id, fetch_payloads=True)
        if state is None:
            raise WorkflowNotFoundError(f"no agent stream with id {self.stream_id!r}")
        status = state.runtime_status.name
        if status == "COMPLETED":
            self._result = json.loads(state.serialized_output)
            ended = state.last_updated_at
            self._ended_at = ended if ended.tzinfo else ended.replace(tzinfo=timezone.utc)
        elif status in ("FAILED", "TERMINATED"):
            error = state.failure_details.message if state.failure_details else status
            self._failure = f"streamed agent turn {self.stream_id!r} failed: {error}"
