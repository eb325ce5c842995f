"""Tool-calling agents: schemas from signatures, and the tool loop through the real `openai`
client against the local server (in-process turns; the durable path is in test_durable_tools)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from durable_workflows.agents import (
    Agent,
    AgentThreadState,
    AgentToolError,
    AgentToolRoundsError,
    ChatMessage,
    OpenAIChatClient,
    Tool,
    ToolCall,
    tool,
)
from durable_workflows.errors import WorkflowDefinitionError
from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply


def client_for(server: LocalOpenAIServer) -> OpenAIChatClient:
    return OpenAIChatClient("m", api_key="k", base_url=server.base_url, max_retries=0)


@tool(name="get_weather", description="The current weather in a city.")
def weather(city: str, unit: Literal["C", "F"] = "C") -> str:
    return f"18 degrees {unit} and sunny in {city}"


class Order(BaseModel):
    order_id: str
    quantity: int


class Quote(BaseModel):
    order_id: str
    total: float


def price(order: Order, discount: Annotated[float, Field(description="0 to 1")] = 0.0) -> Quote:
    """Price an order.

    The second paragraph is not part of the description.
    """
    return Quote(order_id=order.order_id, total=order.quantity * 2.5 * (1 - discount))


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "tool"]


# -- definitions ------------------------------------------------------------------------------


def test_schema_comes_from_the_signature() -> None:
    priced = Tool(price)

    assert weather.spec() == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {
                "additionalProperties": False,
                "properties": {
                    "city": {"title": "City", "type": "string"},
                    "unit": {"default": "C", "enum": ["C", "F"], "title": "Unit", "type": "string"},
                },
                "required": ["city"],
                "type": "object",
            },
        },
    }
    assert priced.name == "price" and priced.description == "Price an order."
    assert priced.parameters["required"] == ["order"]
    assert priced.parameters["properties"]["discount"]["description"] == "0 to 1"
    assert priced.parameters["$defs"]["Order"]["required"] == ["order_id", "quantity"]
    assert weather("Oslo") == "18 degrees C and sunny in Oslo"  # still a function


@pytest.mark.parametrize(
    ("function", "kwargs", "match"),
    [
        (lambda *args: None, {"name": "f"}, r"\*args and \*\*kwargs"),
        (lambda city: city, {"name": "f"}, "parameter 'city' needs a type annotation"),
        (weather.function, {"name": "get weather"}, "Tool name 'get weather' is not valid"),
        ("not callable", {}, "is not a tool"),
    ],
)
def test_bad_tools_are_refused(function: Any, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(WorkflowDefinitionError, match=match):
        Tool(function, **kwargs)


def test_agent_tool_options_are_checked(server: LocalOpenAIServer) -> None:
    chat = client_for(server)
    with pytest.raises(WorkflowDefinitionError, match="two tools are named 'get_weather'"):
        Agent("A", "x", chat, tools=[weather, weather])
    with pytest.raises(
        WorkflowDefinitionError, match="max_tool_rounds must be an int of at least 1"
    ):
        Agent("A", "x", chat, tools=[weather], max_tool_rounds=0)
    with pytest.raises(WorkflowDefinitionError, match="tool_errors must be 'return' or 'raise'"):
        Agent("A", "x", chat, tools=[weather], tool_errors="ignore")  # type: ignore[arg-type]


# -- the tool loop ----------------------------------------------------------------------------


def weather_model(body: dict[str, Any]) -> str | ServerReply:
    """Asks for the weather once, then answers with the tool's result."""
    results = tool_messages(body)
    if not results:
        return ServerReply(tool_calls=(("get_weather", {"city": "Paris"}),))
    return f"Forecast: {results[-1]['content']}"


def test_a_tool_using_agent_answers_with_the_tools_result(server: LocalOpenAIServer) -> None:
    server.responder = weather_model
    agent = Agent("Forecaster", "Use tools.", client_for(server), tools=[weather])

    thread, response = agent.run_turn(AgentThreadState(), "Weather in Paris?", thread_id="t1")

    assert response.text == "Forecast: 18 degrees C and sunny in Paris"
    assert response.usage.total_tokens > 0
    assert [(m.role, m.content) for m in thread.messages] == [
        ("user", "Weather in Paris?"),
        ("assistant", ""),
        ("tool", "18 degrees C and sunny in Paris"),
        ("assistant", response.text),
    ]
    call = thread.messages[1].tool_calls[0]
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert thread.messages[2].tool_call_id == call.id
    first, second = server.requests
    assert first.tool_names == ["get_weather"]
    assert second.messages[2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": call.arguments},
            }
        ],
    }
    assert second.messages[3] == {
        "role": "tool",
        "content": "18 degrees C and sunny in Paris",
        "tool_call_id": call.id,
    }


def test_the_next_turn_sends_the_tool_history(server: LocalOpenAIServer) -> None:
    server.responder = weather_model
    agent = Agent("Forecaster", "Use tools.", client_for(server), tools=[weather])
    thread, _ = agent.run_turn(AgentThreadState(), "Weather in Paris?", thread_id="t1")

    server.responder = lambda body: "You asked about Paris."
    thread, response = agent.run_turn(thread, "What did I ask?", thread_id="t1")

    assert [m["role"] for m in server.requests[-1].messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert len(thread.messages) == 6 and response.text == "You asked about Paris."


def test_parallel_tool_calls_run_at_the_same_time(server: LocalOpenAIServer) -> None:
    both_running = threading.Barrier(2, timeout=10)

    def lookup(city: str) -> str:
        both_running.wait()  # passes only when the two calls overlap
        return f"{city}: ok"

    def model(body: dict[str, Any]) -> str | ServerReply:
        results = tool_messages(body)
        if not results:
            return ServerReply(
                tool_calls=(("lookup", {"city": "Oslo"}), ("lookup", {"city": "Rome"}))
            )
        return " | ".join(r["content"] for r in results)

    server.responder = model
    agent = Agent("Parallel", "Look up.", client_for(server), tools=[lookup])

    thread, response = agent.run_turn(AgentThreadState(), "both", thread_id="t1")

    assert response.text == "Oslo: ok | Rome: ok"
    assert [m.role for m in thread.messages] == ["user", "assistant", "tool", "tool", "assistant"]
    assert [c.name for c in thread.messages[1].tool_calls] == ["lookup", "lookup"]


def always_calls_tools(body: dict[str, Any]) -> ServerReply:
    return ServerReply(tool_calls=(("get_weather", {"city": "Paris"}),))


@pytest.mark.parametrize("rounds", [8, 2])
def test_max_tool_rounds_is_enforced(server: LocalOpenAIServer, rounds: int) -> None:
    server.responder = always_calls_tools
    options = {} if rounds == 8 else {"max_tool_rounds": rounds}
    agent = Agent("Looper", "Loop.", client_for(server), tools=[weather], **options)
    thread = AgentThreadState(messages=[ChatMessage(role="user", content="earlier")])

    with pytest.raises(AgentToolRoundsError, match=f"max_tool_rounds={rounds} rounds") as caught:
        agent.run_turn(thread, "go", thread_id="t1")

    assert "'Looper'" in str(caught.value) and "thread is unchanged" in str(caught.value)
    assert len(server.requests) == rounds + 1
    assert len(thread.messages) == 1


def failing_lookup(city: str) -> str:
    raise ValueError(f"no station in {city}")


def error_model(body: dict[str, Any]) -> str | ServerReply:
    results = tool_messages(body)
    if not results:
        return ServerReply(tool_calls=(("failing_lookup", {"city": "Atlantis"}),))
    return f"Sorry: {results[-1]['content']}"


def test_a_tool_error_goes_back_to_the_model(server: LocalOpenAIServer) -> None:
    server.responder = error_model
    agent = Agent("Careful", "x", client_for(server), tools=[failing_lookup])

    thread, response = agent.run_turn(AgentThreadState(), "weather?", thread_id="t1")

    expected = "Error: tool 'failing_lookup' failed: ValueError: no station in Atlantis"
    assert response.text == f"Sorry: {expected}"
    assert thread.messages[2].content == expected


def test_tool_errors_raise_fails_the_turn(server: LocalOpenAIServer) -> None:
    server.responder = error_model
    agent = Agent("Strict", "x", client_for(server), tools=[failing_lookup], tool_errors="raise")

    with pytest.raises(AgentToolError, match="ValueError: no station in Atlantis") as caught:
        agent.run_turn(AgentThreadState(), "weather?", thread_id="t1")

    assert "'Strict'" in str(caught.value) and "thread is unchanged" in str(caught.value)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (("get_weather", {"town": "Paris"}), "invalid arguments (city: Field required; town:"),
        (("get_weather", "not json"), "invalid arguments (<arguments>: Invalid JSON"),
        (("teleport", {}), "there is no tool named 'teleport' (the tools are: get_weather)"),
    ],
)
def test_bad_calls_from_the_model_are_reported_to_it(
    server: LocalOpenAIServer, call: tuple[str, Any], expected: str
) -> None:
    def model(body: dict[str, Any]) -> str | ServerReply:
        results = tool_messages(body)
        return results[-1]["content"] if results else ServerReply(tool_calls=(call,))

    server.responder = model
    agent = Agent("Forecaster", "x", client_for(server), tools=[weather])

    _, response = agent.run_turn(AgentThreadState(), "go", thread_id="t1")

    assert expected in response.text


def test_async_tools_and_model_arguments(server: LocalOpenAIServer) -> None:
    async def stock(order_id: str) -> int:
        await asyncio.sleep(0)
        return 7

    def model(body: dict[str, Any]) -> str | ServerReply:
        results = tool_messages(body)
        if not results:
            return ServerReply(
                tool_calls=(
                    ("price", {"order": {"order_id": "A1", "quantity": 4}, "discount": 0.5}),
                    ("stock", {"order_id": "A1"}),
                )
            )
        return " ".join(r["content"] for r in results)

    server.responder = model
    agent = Agent("Sales", "x", client_for(server), tools=[price, stock])

    _, response = agent.run_turn(AgentThreadState(), "quote A1", thread_id="t1")

    assert response.text == '{"order_id": "A1", "total": 5.0} 7'


def test_tool_results_must_answer_the_calls(server: LocalOpenAIServer) -> None:
    agent = Agent("Forecaster", "x", client_for(server), tools=[weather])
    server.responder = always_calls_tools
    turn = agent.begin_turn(AgentThreadState(), "go", thread_id="t1")
    step = agent.model_step(AgentThreadState(), turn, thread_id="t1")
    assert not hasattr(step, "response")
    wrong = agent.call_tool(ToolCall(id="other", name="get_weather", arguments='{"city": "x"}'))

    with pytest.raises(AgentToolError, match=r"do not answer the calls"):
        agent.add_tool_results(step.turn, [wrong], thread_id="t1")  # type: ignore[union-attr]
