"""durable_workflows: workflow graphs in Python, compiled onto durable Durable Task orchestrations."""

from .agent_nodes import AgentNode
from .agent_protocol import AgentResponse, ChatMessage, Usage, WorkflowAgent
from .builder import WorkflowBuilder
from .client import RunStatus, StreamingWorkflowRun, WorkflowClient, WorkflowRun
from .context import WorkflowContext
from .edges import Case, Default
from .errors import (
    BackendError,
    BackendUnavailableError,
    DurableWorkflowsError,
    ExecutorFailedError,
    InvalidResponseError,
    InvalidRunIdError,
    MaxSuperstepsExceededError,
    PayloadTooLargeError,
    RequestTimeoutError,
    RunAlreadyExistsError,
    SerializationError,
    ValidationIssue,
    WorkflowDefinitionError,
    WorkflowFailedError,
    WorkflowGraphMismatchError,
    WorkflowNotFoundError,
    WorkflowRuntimeError,
    WorkflowValidationError,
)
from .events import (
    CustomEvent,
    ExecutorCompletedEvent,
    ExecutorFailedEvent,
    ExecutorInvokedEvent,
    ResponseReceivedEvent,
    WaitingForInputEvent,
    WorkflowCompletedEvent,
    WorkflowEvent,
    WorkflowFailedEvent,
    WorkflowOutputEvent,
    WorkflowStartedEvent,
)
from .executors import Executor, executor, handler
from .hosting.host import DurableWorkflowHost
from .policies import RetryPolicy
from .ports import RequestPort
from .workflow import Workflow

__version__ = "0.1.0"

__all__ = [
    "AgentNode",
    "AgentResponse",
    "BackendError",
    "BackendUnavailableError",
    "Case",
    "ChatMessage",
    "CustomEvent",
    "Default",
    "DurableWorkflowHost",
    "DurableWorkflowsError",
    "Executor",
    "ExecutorCompletedEvent",
    "ExecutorFailedError",
    "ExecutorFailedEvent",
    "ExecutorInvokedEvent",
    "InvalidResponseError",
    "InvalidRunIdError",
    "MaxSuperstepsExceededError",
    "PayloadTooLargeError",
    "RequestPort",
    "RequestTimeoutError",
    "ResponseReceivedEvent",
    "RetryPolicy",
    "RunAlreadyExistsError",
    "RunStatus",
    "SerializationError",
    "StreamingWorkflowRun",
    "Usage",
    "ValidationIssue",
    "WaitingForInputEvent",
    "Workflow",
    "WorkflowAgent",
    "WorkflowBuilder",
    "WorkflowClient",
    "WorkflowCompletedEvent",
    "WorkflowContext",
    "WorkflowDefinitionError",
    "WorkflowEvent",
    "WorkflowFailedError",
    "WorkflowFailedEvent",
    "WorkflowGraphMismatchError",
    "WorkflowNotFoundError",
    "WorkflowOutputEvent",
    "WorkflowRun",
    "WorkflowRuntimeError",
    "WorkflowStartedEvent",
    "WorkflowValidationError",
    "__version__",
    "executor",
    "handler",
]
