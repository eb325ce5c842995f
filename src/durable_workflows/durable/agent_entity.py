"""Agents as durable entities: one entity instance per conversation thread.

Operations: ``run_turn`` (one model turn, returns the response envelope), ``get_history``,
``delete``, and ``expire`` (signalled to itself after each turn; deletes an idle thread once
the agent's session time-to-live has passed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from datetime import datetime, timezone
from typing import Any

from ..errors import WorkflowDefinitionError
from ..model.agent_protocol import AgentInput, AgentThreadState, ExpiringAgent, WorkflowAgent
from ..values.serialization import TypeRegistry
from .names import AGENT_TURN_ORCHESTRATOR, agent_entity_name


def make_agent_entity(
    agent: WorkflowAgent, registries: Mapping[str, TypeRegistry] | None = None
) -> Callable[[Any, Any], Any]:
    """The entity function holding `agent`'s threads.

    `registries` are the type registries of the workflows using the agent, by workflow name:
    a turn a workflow runs is decoded and encoded with that workflow's types (so a typed
    `AgentResponse[...]` of a previous agent arrives as itself); a direct turn with the agent's.
    """
    own = TypeRegistry([AgentInput, agent.response_type])
    by_workflow = dict(registries or {})

    def entity(ctx: Any, payload: Any) -> Any:
        stored = ctx.get_state(None)
        thread = AgentThreadState.model_validate(stored or {})
        operation = ctx.operation
        if operation == "run_turn":
            registry = by_workflow.get(payload.get("workflow", ""), own)
            message = registry.decode(payload["message"])
            thread, response = agent.run_turn(thread, message, thread_id=payload["thread_id"])
            ctx.set_state(thread.model_dump(mode="json"))
            expires = _expires_at(agent, thread)
            if expires is not None:
                fire_at = datetime.fromtimestamp(expires, tz=timezone.utc)
                ctx.signal_entity(ctx.entity_id, "expire", None, signal_time=fire_at)
            return registry.encode(response)
        if operation == "get_history":
            return None if stored is None else thread.model_dump(mode="json")
        if operation == "delete":
            ctx.set_state(None)
            return None
        if operation == "expire":
            expires = _expires_at(agent, thread)
            if stored is not None and expires is not None and expires <= time.time():
                ctx.set_state(None)
            return None
        msg = f"agent {agent.name!r} has no operation {operation!r}"
        raise WorkflowDefinitionError(msg)

    return entity


def _expires_at(agent: WorkflowAgent, thread: AgentThreadState) -> float | None:
    return agent.expires_at(thread) if isinstance(agent, ExpiringAgent) else None


def agent_turn_orchestrator(ctx: Any, payload: dict[str, Any]) -> Generator[Any, Any, Any]:
    """Runs one turn for a client: calls the agent's entity and returns the response."""
    from durabletask.entities import EntityInstanceId

    entity = EntityInstanceId(agent_entity_name(payload["agent"]), payload["key"])
    body = {"message": payload["message"], "thread_id": payload["thread_id"]}
    return (yield ctx.call_entity(entity, "run_turn", body))


agent_turn_orchestrator.__name__ = AGENT_TURN_ORCHESTRATOR
