"""Chat agents (OpenAI / Azure OpenAI) that run as workflow nodes or durable entities.

Install the ``agents`` extra for the model SDKs (in a clone of the repository):
``pip install -e '.[agents]'``.
The SDKs are imported only when a model is first called.
"""

from ..durable.names import AgentSession
from ..durable.response_formats import ResponseFormatError
from ..model.agent_protocol import (
    DEFAULT_SESSION_TTL,
    AgentResponse,
    AgentThreadState,
    ChatMessage,
    ToolCall,
    ToolResult,
    Usage,
)
from ._agent import DEFAULT_MAX_TOOL_ROUNDS, Agent, UseHostDefault
from ._agent_framework import AgentFrameworkChatClient, from_agent_framework
from ._chat_client import ChatClient, ChatCompletion
from ._errors import (
    AgentError,
    AgentHistoryLimitError,
    AgentInputError,
    AgentModelCallError,
    AgentResponseError,
    AgentToolError,
    AgentToolRoundsError,
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
from ._orchestration import AgentTask, OrchestrationAgent, get_agent
from ._testing import DeterministicChatClient
from ._tool_loop import ToolErrors
from ._tools import Tool, tool

__all__ = [
    "DEFAULT_MAX_HISTORY_BYTES",
    "DEFAULT_MAX_TOOL_ROUNDS",
    "DEFAULT_SESSION_TTL",
    "NO_MODEL_CONFIGURED",
    "Agent",
    "AgentError",
    "AgentFrameworkChatClient",
    "AgentHistoryLimitError",
    "AgentInputError",
    "AgentModelCallError",
    "AgentResponse",
    "AgentResponseError",
    "AgentSession",
    "AgentStream",
    "AgentStreamUpdate",
    "AgentTask",
    "AgentThreadState",
    "AgentToolError",
    "AgentToolRoundsError",
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
    "OrchestrationAgent",
    "ResponseFormatError",
    "ThreadId",
    "Tool",
    "ToolCall",
    "ToolErrors",
    "ToolResult",
    "Usage",
    "UseHostDefault",
    "agent_entity_name",
    "chat_client_from_env",
    "from_agent_framework",
    "get_agent",
    "check_agent_name",
    "history_bytes",
    "keep_last_messages",
    "new_thread_id",
    "parse_thread_id",
    "tool",
]
