"""Per-executor execution policies: retries and timeouts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..errors import WorkflowDefinitionError


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failing executor: `max_attempts` in all, waits growing by `backoff_coefficient`."""

    max_attempts: int = 3
    first_retry_interval: timedelta = timedelta(seconds=1)
    backoff_coefficient: float = 2.0
    max_retry_interval: timedelta | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            msg = f"RetryPolicy.max_attempts must be at least 1, got {self.max_attempts}"
            raise WorkflowDefinitionError(msg)
        if self.first_retry_interval <= timedelta(0):
            msg = "RetryPolicy.first_retry_interval must be positive"
            raise WorkflowDefinitionError(msg)
        if self.backoff_coefficient < 1:
            msg = "RetryPolicy.backoff_coefficient must be at least 1"
            raise WorkflowDefinitionError(msg)
