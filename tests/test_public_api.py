"""The public API: `durable_workflows.__all__` is sorted, importable, and pinned.

To add a public name: export it in `src/durable_workflows/__init__.py`, keep `__all__` sorted,
and add it to `EXPECTED` below (one name per line, sorted the same way).
"""

from __future__ import annotations

import importlib

import durable_workflows
import durable_workflows.testing

EXPECTED = [
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

EXPECTED_TESTING = [
    "DurableMismatchError",
    "InProcessResult",
    "InProcessRunner",
    "NO_RESPONSE",
    "NoStrategyError",
    "NondeterminismError",
    "ReplayReport",
    "Trace",
    "VirtualClock",
    "WorkflowCheckError",
    "WorkflowSpec",
    "assert_durable_matches_in_process",
    "check_workflow",
    "inputs_for",
    "replay",
    "responses_for",
    "run_in_process",
    "run_scripted",
    "values_for",
    "workflow_specs",
    "workflows",
]


def test_all_is_sorted_and_unique() -> None:
    names = list(durable_workflows.__all__)
    assert names == sorted(names)
    assert len(names) == len(set(names))


def test_all_is_pinned() -> None:
    """A change to the public API is deliberate: update EXPECTED with it."""
    assert sorted(EXPECTED) == EXPECTED
    assert list(durable_workflows.__all__) == EXPECTED


def test_every_name_is_importable() -> None:
    module = importlib.import_module("durable_workflows")
    for name in durable_workflows.__all__:
        assert getattr(module, name, None) is not None, name
    namespace: dict[str, object] = {}
    exec("from durable_workflows import *", namespace)
    assert set(durable_workflows.__all__) <= set(namespace)


def test_errors_share_one_root() -> None:
    """Every exported exception derives from DurableWorkflowsError."""
    for name in durable_workflows.__all__:
        obj = getattr(durable_workflows, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, durable_workflows.DurableWorkflowsError), name


def test_testing_api_is_pinned() -> None:
    assert list(durable_workflows.testing.__all__) == EXPECTED_TESTING
    for name in EXPECTED_TESTING:
        assert getattr(durable_workflows.testing, name, None) is not None, name
    namespace: dict[str, object] = {}
    exec("from durable_workflows.testing import *", namespace)
    assert set(EXPECTED_TESTING) <= set(namespace)
    for name in EXPECTED_TESTING:
        obj = getattr(durable_workflows.testing, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, durable_workflows.DurableWorkflowsError), name


def test_the_pytest_plugin_is_registered() -> None:
    """The `workflow_host` and `openai_server` fixtures come from a pytest11 entry point."""
    from importlib.metadata import entry_points

    plugins = {e.name: e.value for e in entry_points(group="pytest11")}
    assert plugins.get("durable_workflows") == "durable_workflows.testing.pytest_plugin"
