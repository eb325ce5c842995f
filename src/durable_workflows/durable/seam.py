"""The slice of a durabletask orchestration context the orchestrator uses.

The orchestrator talks to this protocol only, so unit tests drive it with a fake
(`durable_workflows.testing.fake_seam`) and production wraps durabletask's context.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from ..errors import UNQUALIFIED_MODULES
from ..model.policies import RetryPolicy
from .event_data import RawEventData


class OrchestrationSeam(Protocol):
    """What the orchestrator needs from Durable Task. Tasks are opaque; `yield` them."""

    @property
    def instance_id(self) -> str: ...

    @property
    def now(self) -> datetime: ...

    @property
    def is_replaying(self) -> bool:
        """True while the code re-runs for history already recorded (emit nothing then)."""
        ...

    def call_activity(self, name: str, payload: Any, retry: RetryPolicy | None) -> Any: ...

    def call_entity(self, name: str, key: str, operation: str, payload: Any) -> Any: ...

    def signal_entity(self, name: str, key: str, operation: str, payload: Any) -> None: ...

    def call_sub_orchestrator(
        self, name: str, payload: Any, *, instance_id: str | None = None
    ) -> Any: ...

    def send_event(self, instance_id: str, name: str, data: Any) -> None:
        """Raise event `name` on another orchestration (one-way)."""
        ...

    def wait_for_event(self, name: str) -> Any:
        """A task whose result is the event's payload: raw JSON text (or None, or, from a
        worker without `EventDataConverter`, the decoded JSON)."""
        ...

    def timer(self, fire_at: datetime) -> Any: ...

    def when_all(self, tasks: list[Any]) -> Any: ...

    def when_any(self, tasks: list[Any]) -> Any: ...

    def is_complete(self, task: Any) -> bool: ...

    def failure(self, task: Any) -> tuple[str, str] | None:
        """(message, error type) if the task failed, else None."""
        ...

    def result(self, task: Any) -> Any: ...

    def set_status(self, status: Any) -> None: ...

    def continue_as_new(self, payload: Any) -> None: ...


class DurableTaskSeam:
    """`OrchestrationSeam` over durabletask's `OrchestrationContext`."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    @property
    def instance_id(self) -> str:
        return str(self._ctx.instance_id)

    @property
    def now(self) -> datetime:
        value: datetime = self._ctx.current_utc_datetime
        return value

    @property
    def is_replaying(self) -> bool:
        return bool(self._ctx.is_replaying)

    def call_activity(self, name: str, payload: Any, retry: RetryPolicy | None) -> Any:
        return self._ctx.call_activity(name, input=payload, retry_policy=_retry_policy(retry))

    def call_entity(self, name: str, key: str, operation: str, payload: Any) -> Any:
        from durabletask.entities import EntityInstanceId

        return self._ctx.call_entity(EntityInstanceId(name, key), operation, payload)

    def signal_entity(self, name: str, key: str, operation: str, payload: Any) -> None:
        from durabletask.entities import EntityInstanceId

        self._ctx.signal_entity(EntityInstanceId(name, key), operation, payload)

    def call_sub_orchestrator(
        self, name: str, payload: Any, *, instance_id: str | None = None
    ) -> Any:
        return self._ctx.call_sub_orchestrator(name, input=payload, instance_id=instance_id)

    def send_event(self, instance_id: str, name: str, data: Any) -> None:
        self._ctx.send_event(instance_id, name, data=data)

    def wait_for_event(self, name: str) -> Any:
        return self._ctx.wait_for_external_event(name, data_type=RawEventData)

    def timer(self, fire_at: datetime) -> Any:
        return self._ctx.create_timer(fire_at)

    def when_all(self, tasks: list[Any]) -> Any:
        from durabletask import task

        return task.when_all(tasks)

    def when_any(self, tasks: list[Any]) -> Any:
        from durabletask import task

        return task.when_any(tasks)

    def is_complete(self, task: Any) -> bool:
        return bool(task.is_complete)

    def failure(self, task: Any) -> tuple[str, str] | None:
        if not task.is_failed:
            return None
        details = task.get_exception().details
        if details.error_type.endswith(".EntityOperationFailedException") and details.inner_failure:
            details = details.inner_failure  # report the agent's own error, as in-process
        return str(details.message), _error_type(str(details.error_type))

    def result(self, task: Any) -> Any:
        return task.get_result()

    def set_status(self, status: Any) -> None:
        self._ctx.set_custom_status(status)

    def continue_as_new(self, payload: Any) -> None:
        self._ctx.continue_as_new(payload, save_events=True)


def _error_type(qualified: str) -> str:
    """durabletask's ``module.Class`` as `error_type_name` gives it (``builtins.`` dropped)."""
    module, _, name = qualified.partition(".")
    return name if module in UNQUALIFIED_MODULES and name else qualified


def _retry_policy(retry: RetryPolicy | None) -> Any:
    if retry is None:
        return None
    from durabletask import task

    return task.RetryPolicy(
        first_retry_interval=retry.first_retry_interval,
        max_number_of_attempts=retry.max_attempts,
        backoff_coefficient=retry.backoff_coefficient,
        max_retry_interval=retry.max_retry_interval or timedelta(hours=1),
    )
