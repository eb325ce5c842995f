"""Workflows and agents the HTTP tests serve (module-level so a served process can import them)."""

from __future__ import annotations

from pydantic import BaseModel

from durable_workflows import RequestPort, WorkflowBuilder, executor
from durable_workflows.agents import (
    Agent,
    ChatClientError,
    ChatCompletion,
    ChatMessage,
    DeterministicChatClient,
    ToolCall,
)
from durable_workflows.agents._testing import Reply
from durable_workflows.graph.workflow import Workflow


class Decision(BaseModel):
    approved: bool
    approver: str


class Rating(BaseModel):
    score: int
    reason: str


def echo() -> Workflow:
    @executor(id="shout")
    def shout(text: str) -> str:
        return text.upper()

    return WorkflowBuilder(shout, name="Echo", description="Shouts its input.").build()


def approval() -> Workflow:
    @executor(id="ask")
    def ask(amount: int) -> int:
        return amount

    port = RequestPort("approve", request_type=int, response_type=Decision)

    @executor(id="decide")
    def decide(decision: Decision) -> str:
        return f"approved={decision.approved} by {decision.approver}"

    return WorkflowBuilder(ask, name="Approval").add_chain([ask, port, decide]).build()


def failing() -> Workflow:
    @executor(id="fine")
    def fine(x: int) -> int:
        return x

    @executor(id="boom")
    def boom(x: int) -> int:
        raise ValueError(f"kaput {x}")

    return WorkflowBuilder(fine, name="Failing").add_edge(fine, boom).build()


def parallel() -> Workflow:
    """start -> fan-out to ports `first` and `second` -> fan-in `join`."""

    @executor(id="start")
    def start(x: int) -> int:
        return x

    first = RequestPort("first", request_type=int, response_type=str)
    second = RequestPort("second", request_type=int, response_type=str)

    @executor(id="join")
    def join(answers: list[str]) -> str:
        return "+".join(answers)

    return (
        WorkflowBuilder(start, name="Parallel")
        .add_fan_out_edge(start, [first, second])
        .add_fan_in_barrier_edge([first, second], join)
        .build()
    )


ECHO = echo()
APPROVAL = approval()
FAILING = failing()
PARALLEL = parallel()
WORKFLOWS = [ECHO, APPROVAL, FAILING, PARALLEL]

JOKER = Agent(
    "Joker",
    "You tell jokes.",
    DeterministicChatClient(
        rules=[("pirate", "Why did the pirate go to school? To improve his arrr-ticulation.")]
    ),
)
RATER = Agent(
    "Rater",
    "You rate jokes.",
    DeterministicChatClient(default=Rating(score=7, reason="solid pun")),
    response_format=Rating,
)


def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"18 degrees and sunny in {city}"


def forecast(messages: list[ChatMessage], response_format: type[BaseModel] | None) -> Reply:
    """Asks for the weather of the city named last, then answers with the tool's result."""
    last = messages[-1]
    if last.role == "tool":
        return f"It is {last.content}."
    city = last.content.split()[-1].strip("?")
    arguments = f'{{"city": "{city}"}}'
    call = ToolCall(id=f"call_{len(messages)}", name="get_weather", arguments=arguments)
    return ChatCompletion(text="", tool_calls=(call,))


FORECASTER = Agent(
    "Forecaster",
    "You tell the weather; ask get_weather.",
    DeterministicChatClient(forecast),
    tools=[get_weather],
)


def down(messages: list[ChatMessage], response_format: type[BaseModel] | None) -> Reply:
    raise ChatClientError("the model is down (HTTP 503)", status_code=503, retryable=False)


BROKEN = Agent("Broken", "You fail.", DeterministicChatClient(down))
AGENTS = [JOKER, RATER, FORECASTER, BROKEN]
