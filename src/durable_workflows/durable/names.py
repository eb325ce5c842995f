"""Registered names, scoped per workflow so that two workflows never collide."""

from __future__ import annotations

from ..graph.validation import RESERVED_PREFIX

EVENT_LOG_ENTITY = "dw_events"
"""Entity holding a streamed run's events, in chunks of `EVENT_CHUNK` keyed ``<run>~<chunk>``."""

EVENT_CHUNK = 256

SHARED_STATE_ENTITY = "dw_shared"
"""Entity keyed by run id holding a run's shared state when it is passed by reference."""


def orchestrator_name(workflow_name: str) -> str:
    """The orchestrator registered for a workflow."""
    return f"dw.{workflow_name}"


def activity_name(workflow_name: str, node_id: str) -> str:
    """The activity that runs one executor of one workflow."""
    return f"dw.{workflow_name}.{node_id}"


AGENT_ENTITY_PREFIX = "dafx-"
"""Agent entities are ``dafx-<agent>``; a thread id is the entity id ``@dafx-<agent>@<key>``."""

AGENT_TURN_ORCHESTRATOR = orchestrator_name(RESERVED_PREFIX + "agent_turn")
"""The orchestrator that runs one agent turn for a client (entities cannot answer clients).
Its name is reserved: no workflow's orchestrator can take it."""


def agent_entity_name(agent_name: str) -> str:
    """The entity holding an agent's threads (durabletask lower-cases entity names)."""
    return AGENT_ENTITY_PREFIX + agent_name.lower()


def thread_id(agent_name: str, key: str) -> str:
    """The printable thread id of `agent_name`'s thread `key`."""
    return f"@{agent_entity_name(agent_name)}@{key}"


def event_chunk_key(run_id: str, sequence: int) -> str:
    """The event-log entity key holding event number `sequence` (from 1) of a run."""
    return f"{run_id}~{(sequence - 1) // EVENT_CHUNK}"
