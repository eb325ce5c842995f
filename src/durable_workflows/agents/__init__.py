"""Chat agents (OpenAI / Azure OpenAI) that run as workflow nodes or durable entities.

Install the ``agents`` extra for the model SDKs: ``pip install 'durable_workflows[agents]'``.
The SDKs are imported only when a model is first called.
"""

from ..model.agent_protocol import AgentResponse, AgentThreadState, ChatMessage, Usage
from ._agent import DEFAULT_SESSION_TTL, Agent
from ._chat_client import ChatClient, ChatCompletion
from ._errors import (
    AgentError,
    AgentHistoryLimitError,
    AgentInputError,
    AgentModelCallError,
    AgentResponseError,
    ChatClientConfigurationError,
    ChatClientError,
    InvalidThreadIdError,
)
from ._history import DEFAULT_MAX_HISTORY_BYTES, HistoryReducer, history_bytes, keep_last_messages
from ._names import ThreadId, agent_entity_name, check_agent_name, new_thread_id, parse_thread_id
from ._openai import (
    NO_MODEL_CONFIGURED,
    AzureOpenAIChatClient,
    OpenAIChatClient,
    chat_client_from_env,
)
from ._testing import DeterministicChatClient

__all__ = [
    "DEFAULT_MAX_HISTORY_BYTES",
    "DEFAULT_SESSION_TTL",
    "NO_MODEL_CONFIGURED",
    "Agent",
    "AgentError",
    "AgentHistoryLimitError",
    "AgentInputError",
    "AgentModelCallError",
    "AgentResponse",
    "AgentResponseError",
    "AgentThreadState",
    "AzureOpenAIChatClient",
    "ChatClient",
    "ChatClientConfigurationError",
    "ChatClientError",
    "ChatCompletion",
    "ChatMessage",
    "DeterministicChatClient",
    "HistoryReducer",
    "InvalidThreadIdError",
    "OpenAIChatClient",
    "ThreadId",
    "Usage",
    "agent_entity_name",
    "chat_client_from_env",
    "check_agent_name",
    "history_bytes",
    "keep_last_messages",
    "new_thread_id",
    "parse_thread_id",
]
