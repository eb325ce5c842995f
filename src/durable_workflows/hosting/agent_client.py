"""Direct use of hosted agents: `host.agents.get("Joker").run("Tell me a joke")`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from ..durable.names import AGENT_TURN_ORCHESTRATOR, agent_entity_name, thread_id
from ..errors import DurableWorkflowsError, InvalidResponseError, WorkflowNotFoundError
from ..model.agent_protocol import (
    AgentInput,
    AgentResponse,
    AgentThreadState,
    ChatMessage,
    WorkflowAgent,
)
from ..values.serialization import TypeRegistry


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

    def new_thread_id(self) -> str:
        """A fresh thread id (``@dafx-<agent>@<uuid>``)."""
        return thread_id(self.name, uuid.uuid4().hex)

    async def run(
        self, message: AgentInput, *, thread_id: str | None = None, timeout: float = 300
    ) -> AgentResponse[Any]:
        """Run one turn on `thread_id` (a new thread when None); the response carries the id."""
        thread = thread_id or self.new_thread_id()
        key = self._key(thread)
        payload = {
            "agent": self.name,
            "key": key,
            "thread_id": thread,
            "message": self._registry.encode(message, (AgentInput,)),
        }
        instance = await self._client.schedule_new_orchestration(
            AGENT_TURN_ORCHESTRATOR, input=payload, instance_id=f"agent-turn-{uuid.uuid4().hex}"
        )
        state = await self._client.wait_for_orchestration_completion(
            instance, fetch_payloads=True, timeout=timeout
        )
        if state is None or state.runtime_status.name != "COMPLETED":
            error = state.failure_details.message if state and state.failure_details else "unknown"
            msg = f"agent {self.name!r} turn on thread {thread!r} failed: {error}"
            raise DurableWorkflowsError(msg)
        response: AgentResponse[Any] = self._registry.decode(json.loads(state.serialized_output))
        return response

    async def get_history(self, thread_id: str) -> list[ChatMessage]:
        """The thread's messages, oldest first (empty for an unknown or expired thread)."""
        from durabletask.entities import EntityInstanceId

        entity = EntityInstanceId(agent_entity_name(self.name), self._key(thread_id))
        metadata = await self._client.get_entity(entity, include_state=True)
        raw = None if metadata is None else metadata.get_state()
        if not raw:
            return []
        data = json.loads(raw) if isinstance(raw, str) else raw
        return list(AgentThreadState.model_validate(data).messages)

    async def delete_thread(self, thread_id: str) -> None:
        """Forget a thread."""
        from durabletask.entities import EntityInstanceId

        entity = EntityInstanceId(agent_entity_name(self.name), self._key(thread_id))
        await self._client.signal_entity(entity, "delete")

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
