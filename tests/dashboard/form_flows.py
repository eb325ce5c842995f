"""A workflow whose request port answers with a model of many field shapes, for the form tests:
served by `durable-workflows serve tests/dashboard/form_flows.py`."""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel

from durable_workflows import RequestPort, WorkflowBuilder, executor


class Priority(str, Enum):
    low = "low"
    high = "high"


class Address(BaseModel):
    city: str
    zip: str | None = None


class Review(BaseModel):
    verdict: Literal["accept", "reject"]
    priority: Priority
    urgent: bool
    score: int
    weight: float = 1.0
    address: Address
    tags: list[str] = []
    note: str | None = None


@executor(id="OpenReview")
def open_review(topic: str) -> str:
    return topic


review = RequestPort("Review", request_type=str, response_type=Review)


@executor(id="CloseReview")
def close_review(answer: Review) -> dict[str, Any]:
    return answer.model_dump(mode="json")


workflow = (
    WorkflowBuilder(open_review, name="FormShapes", description="A review with every field shape")
    .add_chain([open_review, review, close_review])
    .build()
)
