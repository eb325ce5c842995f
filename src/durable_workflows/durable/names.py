"""Registered names, scoped per workflow so that two workflows never collide."""

from __future__ import annotations

EVENT_LOG_ENTITY = "dw_events"
"""Entity holding a streamed run's events, in chunks of `EVENT_CHUNK` keyed ``<run>~<chunk>``."""

EVENT_CHUNK = 256


def orchestrator_name(workflow_name: str) -> str:
    """The orchestrator registered for a workflow."""
    return f"dw.{workflow_name}"


def activity_name(workflow_name: str, node_id: str) -> str:
    """The activity that runs one executor of one workflow."""
    return f"dw.{workflow_name}.{node_id}"


def agent_entity_name(agent_name: str) -> str:
    """The entity holding an agent's threads (durabletask lower-cases entity names)."""
    return f"dw_agent_{agent_name.lower()}"


def event_chunk_key(run_id: str, sequence: int) -> str:
    """The event-log entity key holding event number `sequence` (from 1) of a run."""
    return f"{run_id}~{(sequence - 1) // EVENT_CHUNK}"
