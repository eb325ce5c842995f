"""durable_workflows: workflow graphs in Python, compiled onto durable Durable Task orchestrations."""

from importlib.metadata import PackageNotFoundError, version

from .errors import (
    BackendError,
    BackendUnavailableError,
    DurableWorkflowsError,
    ExecutorFailedError,
    InvalidResponseError,
    InvalidRunIdError,
    MaxSuperstepsExceededError,
    PayloadTooLargeError,
    RequestAlreadyAnsweredError,
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
from .graph.builder import WorkflowBuilder
from .graph.subworkflow import SubWorkflow
from .graph.workflow import Workflow
from .hosting.agent_stream import AgentStream, AgentStreamUpdate
from .hosting.auth import SidecarAuthenticationError
from .hosting.client import WorkflowClient
from .hosting.host import DurableWorkflowHost
from .hosting.run_info import RunSummary
from .hosting.runs import RunStatus, StreamingWorkflowRun, WorkflowRun
from .model.agent_nodes import AgentNode
from .model.agent_protocol import AgentResponse, ChatMessage, Usage, WorkflowAgent
from .model.context import WorkflowContext
from .model.delays import Delay
from .model.edges import Case, Default
from .model.executors import Executor, executor, handler
from .model.policies import RetryPolicy
from .model.ports import RequestPort, RequestTimedOut
from .model.requests import response_handler
from .runtime.events import (
    CustomEvent,
    DelayElapsedEvent,
    DelayStartedEvent,
    ExecutorCompletedEvent,
    ExecutorFailedEvent,
    ExecutorInvokedEvent,
    RequestTimedOutEvent,
    ResponseReceivedEvent,
    ResponseRefusedEvent,
    WaitingForInputEvent,
    WorkflowCompletedEvent,
    WorkflowEvent,
    WorkflowFailedEvent,
    WorkflowOutputEvent,
    WorkflowStartedEvent,
)

try:
    __version__ = version("durable_workflows")
    """The installed version (written once, in pyproject.toml)."""
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AgentNode",
    "AgentResponse",
    "AgentStream",
    "AgentStreamUpdate",
    "BackendError",
    "BackendUnavailableError",
    "Case",
    "ChatMessage",
    "CustomEvent",
    "Default",
    "Delay",
    "DelayElapsedEvent",
    "DelayStartedEvent",
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
    "RequestAlreadyAnsweredError",
    "RequestPort",
    "RequestTimedOut",
    "RequestTimedOutEvent",
    "RequestTimeoutError",
    "ResponseReceivedEvent",
    "ResponseRefusedEvent",
    "RetryPolicy",
    "RunAlreadyExistsError",
    "RunStatus",
    "RunSummary",
    "SerializationError",
    "SidecarAuthenticationError",
    "StreamingWorkflowRun",
    "SubWorkflow",
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
    "response_handler",
]
