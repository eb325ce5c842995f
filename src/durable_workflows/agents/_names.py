"""Agent names and thread ids (``@dafx-<agent>@<key>``, the durable entity id of a thread)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from ..durable import names as durable_names
from ..durable.names import AGENT_ENTITY_PREFIX
from ..errors import WorkflowDefinitionError
from ._errors import InvalidThreadIdError

AGENT_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
"""Agent names: a letter, then letters, digits, ``_`` or ``-`` (at most 63 characters)."""
_KEY_PATTERN = re.compile(r"^[!-~]{1,256}$")


def check_agent_name(name: object) -> str:
    """Return `name` if it is a valid agent name, else raise `WorkflowDefinitionError`."""
    if not isinstance(name, str) or not AGENT_NAME_PATTERN.match(name):
        msg = (
            f"Agent name {name!r} is not valid: start with a letter, then use letters, digits, "
            "'_' or '-' (at most 63 characters); it becomes part of entity and thread ids"
        )
        raise WorkflowDefinitionError(msg)
    return name


def agent_entity_name(agent_name: str) -> str:
    """The durable entity name of an agent's threads: ``dafx-<name>``, lower-cased.

    durabletask lower-cases entity names, so agent names that differ only in case share one.
    """
    return durable_names.agent_entity_name(check_agent_name(agent_name))


@dataclass(frozen=True)
class ThreadId:
    """A parsed thread id: the (lower-cased) agent name and the thread key."""

    agent: str
    key: str

    @property
    def entity_name(self) -> str:
        """The durable entity name (``dafx-<agent>``)."""
        return AGENT_ENTITY_PREFIX + self.agent

    def __str__(self) -> str:
        return f"@{self.entity_name}@{self.key}"


def new_thread_id(agent_name: str) -> str:
    """A fresh thread id for `agent_name`: ``@dafx-<agent>@<uuid4 hex>``."""
    return str(ThreadId(check_agent_name(agent_name).lower(), uuid.uuid4().hex))


def parse_thread_id(thread_id: str, *, agent_name: str | None = None) -> ThreadId:
    """Parse ``@dafx-<agent>@<key>``; with `agent_name`, also check the thread is that agent's.

    Keys are printable ASCII without spaces (at most 256 characters). Agent names compare
    case-insensitively, as durabletask entity names do.
    """
    text = thread_id if isinstance(thread_id, str) else repr(thread_id)
    _, _, rest = text.partition("@" + AGENT_ENTITY_PREFIX)
    agent, sep, key = rest.partition("@")
    if (
        not text.startswith("@" + AGENT_ENTITY_PREFIX)
        or not sep
        or not AGENT_NAME_PATTERN.match(agent)
        or not _KEY_PATTERN.match(key)
    ):
        msg = (
            f"{text!r} is not a thread id: expected '@dafx-<agent>@<key>' "
            "(use the thread_id of a previous response, or new_thread_id(agent_name))"
        )
        raise InvalidThreadIdError(msg)
    parsed = ThreadId(agent.lower(), key)
    if agent_name is not None and parsed.agent != agent_name.lower():
        msg = (
            f"Thread {text!r} belongs to agent {parsed.agent!r}, not {agent_name!r}: "
            "threads cannot move between agents; start a new thread for this agent"
        )
        raise InvalidThreadIdError(msg)
    return parsed
