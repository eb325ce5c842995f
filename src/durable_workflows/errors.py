"""The package's exceptions. Every error derives from `DurableWorkflowsError`."""

from __future__ import annotations

from dataclasses import dataclass


class DurableWorkflowsError(Exception):
    """Root of every error raised by durable_workflows."""


UNQUALIFIED_MODULES = ("builtins", "__main__")
"""Modules whose exception classes an `error_type` names without the module."""


def error_type_name(exc_type: type[BaseException]) -> str:
    """How a failure names its exception class (`error_type`), as Python's tracebacks do:
    ``ValueError`` for a builtin, ``app.errors.PaymentDeclined`` for any other class."""
    module = exc_type.__module__
    name = exc_type.__qualname__
    return name if module in UNQUALIFIED_MODULES else f"{module}.{name}"


class WorkflowDefinitionError(DurableWorkflowsError, TypeError):
    """An executor, handler, port or agent is declared wrongly (bad signature, bad id)."""


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found by `WorkflowBuilder.build()`."""

    code: str
    """A stable short name for the rule, e.g. ``unreachable`` or ``type-mismatch``."""
    message: str
    """What is wrong, which ids, and how to fix it."""
    ids: tuple[str, ...] = ()
    """The node ids involved."""


class WorkflowValidationError(DurableWorkflowsError, ValueError):
    """`build()` found problems in the graph; `.issues` lists every one of them."""

    def __init__(self, workflow_name: str, issues: list[ValidationIssue]) -> None:
        self.workflow_name = workflow_name
        self.issues = tuple(issues)
        count = len(self.issues)
        lines = [f"Workflow {workflow_name!r} is invalid ({count} problem{'s' * (count != 1)}):"]
        lines += [f"  - [{issue.code}] {issue.message}" for issue in self.issues]
        super().__init__("\n".join(lines))


class SerializationError(DurableWorkflowsError, TypeError):
    """A value cannot be converted to or from JSON with the declared type."""


class WorkflowRuntimeError(DurableWorkflowsError, RuntimeError):
    """The workflow broke a rule while running (bad target id, superstep cap, ...)."""


class MaxSuperstepsExceededError(WorkflowRuntimeError):
    """The run still had messages to deliver after `max_supersteps` supersteps."""


class ExecutorFailedError(DurableWorkflowsError):
    """An executor raised; `.executor_id` names it, `.error` carries the message and
    `.superstep` says when."""

    def __init__(
        self, executor_id: str, error: str, error_type: str = "Exception", superstep: int = 0
    ) -> None:
        self.executor_id = executor_id
        self.error = error
        self.error_type = error_type
        self.superstep = superstep
        super().__init__(f"Executor {executor_id!r} failed: {error_type}: {error}")


class WorkflowFailedError(DurableWorkflowsError):
    """A run ended in failure; raised by `WorkflowRun.wait_for_completion()`."""

    def __init__(self, run_id: str, error: str, executor_id: str | None = None) -> None:
        self.run_id = run_id
        self.error = error
        self.executor_id = executor_id
        where = f" in executor {executor_id!r}" if executor_id else ""
        super().__init__(f"Run {run_id!r} failed{where}: {error}")


class WorkflowGraphMismatchError(DurableWorkflowsError):
    """A run was started with a workflow version (or graph) that this worker does not register."""


class InvalidResponseError(DurableWorkflowsError, ValueError):
    """A response to a request port was refused (unknown request, wrong type, run finished)."""


class RequestAlreadyAnsweredError(InvalidResponseError):
    """A response to a request the run has already taken another answer for."""

    def __init__(self, run_id: str, request_id: str) -> None:
        self.run_id = run_id
        self.request_id = request_id
        super().__init__(f"request {request_id!r} of run {run_id!r} was already answered")


class WorkflowNotFoundError(DurableWorkflowsError, LookupError):
    """No run, workflow or agent with the given id or name is known."""


class RunAlreadyExistsError(DurableWorkflowsError):
    """A run was started with the id of an existing run (and `if_exists` did not allow it)."""

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"a run with id {run_id!r} already exists: {reason}")


class RequestTimeoutError(WorkflowRuntimeError):
    """A request port's request got no response within the port's timeout."""


class InvalidRunIdError(DurableWorkflowsError, ValueError):
    """A run id cannot be used (empty, or with a character the backend gives a meaning to)."""


class PayloadTooLargeError(DurableWorkflowsError, ValueError):
    """One payload (input, message, result, response or shared state) is over the size limit."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"{what} is {size:,} bytes, over the limit of {limit:,} bytes per payload. Pass "
            "large data by reference (a file path, URL or database key) instead of by value, "
            "or raise max_payload_bytes (docs/hosting.md, Limits)."
        )


class BackendError(DurableWorkflowsError):
    """A call to the Durable Task backend failed; `.code` is the gRPC status code name."""

    def __init__(
        self, message: str, *, code: str, address: str | None = None, run_id: str | None = None
    ) -> None:
        self.code = code
        self.address = address
        self.run_id = run_id
        super().__init__(message)


class BackendUnavailableError(BackendError, ConnectionError):
    """The backend cannot be reached (not running, wrong address, network down)."""
