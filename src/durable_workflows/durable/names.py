"""Registered names, scoped per workflow so that two workflows never collide."""

from __future__ import annotations

from dataclasses import dataclass

from ..graph.validation import RESERVED_PREFIX

EVENT_LOG_ENTITY = "dw_events"
"""Entity holding a streamed run's events, in chunks of `EVENT_CHUNK` keyed ``<run>~<chunk>``."""

EVENT_CHUNK = 256

SHARED_STATE_ENTITY = "dw_shared"
"""Entity keyed by run id holding a run's shared state when it is passed by reference."""


def orchestrator_name(workflow_name: str) -> str:
    """The orchestrator registered for a workflow."""
    return f"dw.{workflow_name}"


def activity_name(workflow_name: str, version: str, node_id: str) -> str:
    """The activity that runs one executor of one version of a workflow (versions of one
    workflow may differ in an executor's code, so each registers its own)."""
    return f"dw.{workflow_name}@{version}.{node_id}"


AGENT_ENTITY_PREFIX = "dafx-"
"""Agent entities are ``dafx-<agent>``; a thread id is the entity id ``@dafx-<agent>@<key>``."""

AGENT_STREAM_ENTITY = "dw_agent_stream"
"""Entity holding one streamed agent turn's text deltas, keyed by the stream id."""

AGENT_TURN_ORCHESTRATOR = orchestrator_name(RESERVED_PREFIX + "agent_turn")
"""The orchestrator that runs one agent turn for a client, an orchestration or a workflow node
(entities cannot answer clients; tool calls are activities, which entities cannot call). Its
name is reserved: no workflow's orchestrator can take it."""


def agent_tool_activity(agent_name: str) -> str:
    """The activity running one tool call of an agent (a reserved name, like the turn's)."""
    return f"{orchestrator_name(RESERVED_PREFIX + 'agent_tool')}.{agent_name}"


def agent_entity_name(agent_name: str) -> str:
    """The entity holding an agent's threads (durabletask lower-cases entity names)."""
    return AGENT_ENTITY_PREFIX + agent_name.lower()


def thread_id(agent_name: str, key: str) -> str:
    """The printable thread id of `agent_name`'s thread `key`."""
    return f"@{agent_entity_name(agent_name)}@{key}"


def event_chunk_key(run_id: str, sequence: int) -> str:
    """The event-log entity key holding event number `sequence` (from 1) of a run."""
    return f"{run_id}~{(sequence - 1) // EVENT_CHUNK}"


@dataclass(frozen=True)
class AgentSession:
    """One conversation with one agent (a thread): calls with the same session share history.

    ``str(session)`` and `thread_id` give the printable thread id ``@dafx-<agent>@<key>``;
    wherever a session is accepted, that string is accepted too.
    """

    agent_name: str
    key: str

    @property
    def thread_id(self) -> str:
        """The printable thread id, ``@dafx-<agent>@<key>``."""
        return thread_id(self.agent_name, self.key)

    def __str__(self) -> str:
        return self.thread_id
