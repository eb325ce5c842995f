"""Workflows for the dashboard tests, served by `durable-workflows serve
tests/dashboard/flows.py:workflows`: FormShapes, whose request port answers with a model of many
field shapes, and Countdown, a loop."""

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


form_shapes = (
    WorkflowBuilder(open_review, name="FormShapes", description="A review with every field shape")
    .add_chain([open_review, review, close_review])
    .build()
)


@executor(id="Count")
def count(n: int) -> int:
    return n + 1


def below_three(n: int) -> bool:
    return n < 3


def at_least_three(n: int) -> bool:
    return n >= 3


@executor(id="Finish")
def finish(n: int) -> str:
    return f"counted to {n}"


countdown = (
    WorkflowBuilder(count, name="Countdown", description="Counts to three in a loop")
    .add_edge(count, count, condition=below_three)
    .add_edge(count, finish, condition=at_least_three)
    .build()
)

workflows = [form_shapes, countdown]
