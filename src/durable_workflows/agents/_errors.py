"""Errors of the agents layer; all derive from `DurableWorkflowsError`."""

from __future__ import annotations

from ..errors import DurableWorkflowsError


class ChatClientError(DurableWorkflowsError, RuntimeError):
    """A chat model call failed (HTTP error after the client's retries, or no connection).

    `status_code` is the HTTP status (``None`` for connection failures); `retryable` says
    whether trying again later may succeed (rate limits, server errors, timeouts).
    """

    def __init__(self, message: str, *, status_code: int | None = None, retryable: bool) -> None:
        self.status_code = status_code
        self.retryable = retryable
        super().__init__(message)


class ChatClientConfigurationError(DurableWorkflowsError, ValueError):
    """A chat client lacks configuration (API key, endpoint, deployment); names the env vars."""


class AgentError(DurableWorkflowsError):
    """Base of the errors one agent turn can raise; `agent_name` names the agent."""

    def __init__(self, agent_name: str, message: str) -> None:
        self.agent_name = agent_name
        super().__init__(message)


class AgentInputError(AgentError, TypeError):
    """The message given to an agent is not a `str`, a `ChatMessage` list or an `AgentResponse`."""


class AgentResponseError(AgentError, ValueError):
    """The model's reply is unusable (invalid JSON or does not match `response_format`)."""


class AgentModelCallError(AgentError, RuntimeError):
    """The model call failed; `status_code` and `retryable` come from the `ChatClientError`."""

    def __init__(
        self, agent_name: str, message: str, *, status_code: int | None, retryable: bool
    ) -> None:
        self.status_code = status_code
        self.retryable = retryable
        super().__init__(agent_name, message)


class AgentHistoryLimitError(AgentError, ValueError):
    """A thread's serialized history would exceed the agent's `max_history_bytes`."""

    def __init__(self, agent_name: str, message: str, *, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(agent_name, message)


class AgentToolError(AgentError, RuntimeError):
    """A tool call failed and the agent has ``tool_errors="raise"`` (else the model sees it)."""


class AgentToolRoundsError(AgentError, RuntimeError):
    """The model still asked for tools after `max_tool_rounds` rounds of tool calls."""


class InvalidThreadIdError(DurableWorkflowsError, ValueError):
    """A thread id is malformed or belongs to another agent."""
