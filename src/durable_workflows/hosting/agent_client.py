"""Direct use of hosted agents: `host.agents.get("Joker").run("Tell me a joke")`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel

from ..durable.names import AGENT_TURN_ORCHESTRATOR, AgentSession, agent_entity_name
from ..durable.response_formats import format_ref
from ..errors import DurableWorkflowsError, InvalidResponseError, WorkflowNotFoundError
from ..model.agent_protocol import (
    AgentInput,
    AgentResponse,
    AgentThreadState,
    ChatMessage,
    WorkflowAgent,
    response_type_for,
)
from ..values.serialization import TypeRegistry
from .agent_stream import AgentStream
from .waiting import wait_until_ended


class DurableAgent:
    """A hosted agent: each thread is a durable entity, so it continues from any worker."""

    def __init__(self, durable_client: Any, agent: WorkflowAgent) -> None:
        self._client = durable_client
        self.agent = agent
        self._registry = TypeRegistry([AgentInput, agent.response_type])

    @property
    def name(self) -> str:
        """The agent's name."""
        return self.agent.name

    def new_thread(self) -> AgentSession:
        """A new conversation; pass it as ``thread=`` to every call that continues it."""
        return AgentSession(self.name, uuid.uuid4().hex)

    def new_thread_id(self) -> str:
        """A fresh thread id (``@dafx-<agent>@<uuid>``)."""
        return self.new_thread().thread_id

    async def run(
        self,
        message: AgentInput,
        *,
        thread: AgentSession | str | None = None,
        thread_id: str | None = None,
        response_format: type[BaseModel] | None = None,
        timeout: float = 300,
    ) -> AgentResponse[Any]:
        """Run one turn on `thread` (an `AgentSession` from `new_thread()` or a thread id; a
        new thread when None); the response carries the thread id.

        `response_format` overrides the agent's structured output for this turn (a
        module-level pydantic class: the worker imports it). `thread_id=` is the same as
        ``thread=`` with a string.
        """
        if thread is not None and thread_id is not None:
            raise InvalidResponseError("give thread= or thread_id=, not both")
        chosen = thread if thread is not None else thread_id
        thread = str(chosen) if chosen is not None else self.new_thread_id()
        payload = self._payload(message, thread, response_format)
        registry = TypeRegistry([self._response_type(response_format)])
        instance = await self._client.schedule_new_orchestration(
            AGENT_TURN_ORCHESTRATOR, input=payload, instance_id=f"agent-turn-{uuid.uuid4().hex}"
        )
        state = await wait_until_ended(self._client, instance, timeout, what="agent turn")
        if state.runtime_status.name != "COMPLETED":
            error = state.failure_details.message if state.failure_details else "unknown"
            msg = f"agent {self.name!r} turn on thread {thread!r} failed: {error}"
            raise DurableWorkflowsError(msg)
        response: AgentResponse[Any] = registry.decode(json.loads(state.serialized_output))
        return response

    def run_stream(
        self,
        message: AgentInput,
        *,
        thread: AgentSession | str | None = None,
        response_format: type[BaseModel] | None = None,
        stream_id: str | None = None,
    ) -> AgentStream:
        """Run one turn whose reply text is streamed: ``async for update in
        agent.run_stream(...)`` yields `AgentStreamUpdate`s as the model produces them, then
        ``await stream.response()`` gives the `AgentResponse`.

        The turn starts on the first iteration. The deltas are stored durably: with
        `stream.stream_id` (`stream_id`, or a new ``agent-stream-<uuid>``; it is the turn's
        instance id, so it must be unused) and the last `update.cursor`, `resume_stream`
        continues from any process.
        """
        thread = str(thread) if thread is not None else self.new_thread_id()
        stream_id = stream_id or f"agent-stream-{uuid.uuid4().hex}"
        payload = self._payload(message, thread, response_format)
        payload["stream"] = stream_id

        async def start() -> None:
            await self._client.schedule_new_orchestration(
                AGENT_TURN_ORCHESTRATOR, input=payload, instance_id=stream_id
            )

        return AgentStream(
            self._client, stream_id, self._response_type(response_format), start=start
        )

    def resume_stream(
        self,
        stream_id: str,
        *,
        cursor: int = 0,
        response_format: type[BaseModel] | None = None,
    ) -> AgentStream:
        """The updates of a started stream after `cursor` (0: from the start)."""
        return AgentStream(
            self._client, stream_id, self._response_type(response_format), cursor=cursor
        )

    async def stream_thread(self, stream_id: str) -> str | None:
        """The thread of this agent's streamed turn `stream_id`, or None if it has no such
        stream."""
        state = await self._client.get_orchestration_state(stream_id, fetch_payloads=True)
        if state is None or state.name != AGENT_TURN_ORCHESTRATOR:
            return None
        payload = json.loads(state.serialized_input or "{}")
        if payload.get("agent") != self.name or payload.get("stream") != stream_id:
            return None
        return str(payload["thread_id"])

    async def get_history(self, thread_id: AgentSession | str) -> list[ChatMessage]:
        """The thread's messages, oldest first (empty for an unknown or expired thread)."""
        from durabletask.entities import EntityInstanceId

        entity = EntityInstanceId(agent_entity_name(self.name), self._key(str(thread_id)))
        metadata = await self._client.get_entity(entity, include_state=True)
        raw = None if metadata is None else metadata.get_state()
        if not raw:
            return []
        data = json.loads(raw) if isinstance(raw, str) else raw
        return list(AgentThreadState.model_validate(data).messages)

    async def delete_thread(self, thread_id: AgentSession | str) -> None:
        """Forget a thread."""
        from durabletask.entities import EntityInstanceId

        entity = EntityInstanceId(agent_entity_name(self.name), self._key(str(thread_id)))
        await self._client.signal_entity(entity, "delete")

    def _payload(
        self, message: AgentInput, thread: str, response_format: type[BaseModel] | None
    ) -> dict[str, Any]:
        """The input of the turn orchestration."""
        payload: dict[str, Any] = {
            "agent": self.name,
            "key": self._key(thread),
            "thread_id": thread,
            "message": self._registry.encode(message, (AgentInput,)),
        }
        if response_format is not None:
            payload["response_format"] = format_ref(response_format)
        return payload

    def _response_type(self, response_format: type[BaseModel] | None) -> type[AgentResponse[Any]]:
        if response_format is None:
            return self.agent.response_type
        return response_type_for(response_format)

    def _key(self, thread: str) -> str:
        prefix = f"@{agent_entity_name(self.name)}@"
        if not thread.lower().startswith(prefix) or len(thread) == len(prefix):
            msg = f"{thread!r} is not a thread of agent {self.name!r} (expected '{prefix}<key>')"
            raise InvalidResponseError(msg)
        return thread[len(prefix) :]


class AgentClient:
    """The hosted agents by name (`host.agents`)."""

    def __init__(self, durable_client: Any, agents: Iterable[WorkflowAgent]) -> None:
        self._agents = {a.name: DurableAgent(durable_client, a) for a in agents}

    def get(self, name: str) -> DurableAgent:
        """The agent named `name`."""
        agent = self._agents.get(name)
        if agent is None:
            msg = f"no agent named {name!r} is hosted (hosted: {sorted(self._agents)})"
            raise WorkflowNotFoundError(msg)
        return agent

    def __iter__(self) -> Iterator[DurableAgent]:
        """The hosted agents, in the order they were given."""
        return iter(self._agents.values())
