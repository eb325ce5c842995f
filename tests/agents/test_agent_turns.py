"""Agent turns with the real `openai` client against the local server."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from durable_workflows.agents import (
    Agent,
    AgentInputError,
    AgentModelCallError,
    AgentResponse,
    AgentResponseError,
    AgentThreadState,
    ChatMessage,
    OpenAIChatClient,
    new_thread_id,
)
from durable_workflows.model.agent_protocol import WorkflowAgent
from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply


class EmailVerdict(BaseModel):
    is_spam: bool
    reason: str


def client_for(server: LocalOpenAIServer, max_retries: int = 2) -> OpenAIChatClient:
    return OpenAIChatClient("m", api_key="k", base_url=server.base_url, max_retries=max_retries)


def classifier(server: LocalOpenAIServer) -> Agent:
    return Agent("SpamDetector", "Classify emails.", client_for(server), EmailVerdict)


def snapshot(thread: AgentThreadState) -> dict[str, Any]:
    return thread.model_dump()


def test_agent_implements_the_workflow_protocol(server: LocalOpenAIServer) -> None:
    joker = Agent("Joker", "Tell jokes.", client_for(server))

    assert isinstance(joker, WorkflowAgent)
    assert joker.response_type is AgentResponse[Any]
    assert classifier(server).response_type is AgentResponse[EmailVerdict]


def test_multi_turn_thread_keeps_the_history(server: LocalOpenAIServer) -> None:
    server.responder = lambda body: f"reply #{len(body['messages']) // 2}"
    joker = Agent("Joker", "You are a pirate comedian.", client_for(server))
    thread_id = new_thread_id("Joker")
    empty = AgentThreadState()

    thread, first = joker.run_turn(empty, "Tell me a pirate joke", thread_id=thread_id)
    thread, second = joker.run_turn(thread, "Another one, please", thread_id=thread_id)

    assert empty.messages == []
    assert (first.text, second.text) == ("reply #1", "reply #2")
    assert second.thread_id == thread_id and second.agent_name == "Joker"
    assert second.usage.total_tokens > 0
    assert [(m.role, m.content) for m in thread.messages] == [
        ("user", "Tell me a pirate joke"),
        ("assistant", "reply #1"),
        ("user", "Another one, please"),
        ("assistant", "reply #2"),
    ]
    assert thread.last_used > 0
    assert server.requests[1].messages == [
        {"role": "system", "content": "You are a pirate comedian."},
        {"role": "user", "content": "Tell me a pirate joke"},
        {"role": "assistant", "content": "reply #1"},
        {"role": "user", "content": "Another one, please"},
    ]


def test_structured_output_is_parsed_into_the_model(server: LocalOpenAIServer) -> None:
    server.responder = lambda body: {"is_spam": True, "reason": "asks for a wire transfer"}

    thread, response = classifier(server).run_turn(
        AgentThreadState(), "Send me $1000 now", thread_id="t1"
    )

    assert type(response) is AgentResponse[EmailVerdict]
    assert response.value == EmailVerdict(is_spam=True, reason="asks for a wire transfer")
    assert thread.messages[-1].content == response.text
    assert server.requests[0].json_schema is not None


def test_responses_round_trip_as_json(server: LocalOpenAIServer) -> None:
    _, response = classifier(server).run_turn(AgentThreadState(), "hi", thread_id="t1")

    restored = AgentResponse[EmailVerdict].model_validate_json(response.model_dump_json())

    assert restored == response and isinstance(restored.value, EmailVerdict)


def test_invalid_json_is_a_clear_error_and_the_thread_is_unchanged(
    server: LocalOpenAIServer,
) -> None:
    agent = classifier(server)
    thread, _ = agent.run_turn(AgentThreadState(), "first email", thread_id="t1")
    before = snapshot(thread)
    server.reply_invalid_json_next()

    with pytest.raises(AgentResponseError) as caught:
        agent.run_turn(thread, "second email", thread_id="t1")

    assert caught.value.agent_name == "SpamDetector"
    assert "'SpamDetector'" in str(caught.value) and "'t1'" in str(caught.value)
    assert "is not valid JSON" in str(caught.value)
    assert "thread is unchanged" in str(caught.value)
    assert snapshot(thread) == before
    thread, response = agent.run_turn(thread, "second email", thread_id="t1")
    assert len(thread.messages) == 4 and response.value is not None


def test_schema_mismatch_names_the_fields(server: LocalOpenAIServer) -> None:
    server.responder = lambda body: {"is_spam": "maybe"}

    with pytest.raises(AgentResponseError, match=r"does not match EmailVerdict.*is_spam.*reason"):
        classifier(server).run_turn(AgentThreadState(), "hi", thread_id="t1")


def test_truncated_reply_says_so(server: LocalOpenAIServer) -> None:
    server.enqueue(ServerReply(content='{"is_spam": tr', finish_reason="length"))

    with pytest.raises(AgentResponseError, match="cut off at the token limit"):
        classifier(server).run_turn(AgentThreadState(), "hi", thread_id="t1")


def test_refusal_is_a_clear_error(server: LocalOpenAIServer) -> None:
    server.enqueue(ServerReply(refusal="I can't help with that"))

    with pytest.raises(AgentResponseError, match="refused: I can't help with that"):
        classifier(server).run_turn(AgentThreadState(), "hi", thread_id="t1")


def test_rate_limit_then_success_is_retried(server: LocalOpenAIServer) -> None:
    server.fail_next(1, status=429)
    agent = Agent("Joker", "Tell jokes.", client_for(server))

    thread, response = agent.run_turn(AgentThreadState(), "joke", thread_id="t1")

    assert response.text == "echo: joke"
    assert len(thread.messages) == 2 and len(server.requests) == 2


def test_repeated_server_errors_leave_the_thread_unchanged(server: LocalOpenAIServer) -> None:
    agent = Agent("Joker", "Tell jokes.", client_for(server, max_retries=1))
    thread, _ = agent.run_turn(AgentThreadState(), "joke", thread_id="t1")
    before = snapshot(thread)
    server.fail_next(10, status=500)

    with pytest.raises(AgentModelCallError) as caught:
        agent.run_turn(thread, "another", thread_id="t1")

    error = caught.value
    assert (error.agent_name, error.status_code, error.retryable) == ("Joker", 500, True)
    assert "HTTP 500 (after 1 retries)" in str(error) and "thread is unchanged" in str(error)
    assert isinstance(error.__cause__, Exception)
    assert snapshot(thread) == before


def test_input_may_be_messages_or_a_previous_response(server: LocalOpenAIServer) -> None:
    agent = Agent("Editor", "", client_for(server))
    previous = AgentResponse[Any](text="draft text", agent_name="Writer")

    thread, _ = agent.run_turn(AgentThreadState(), previous, thread_id="t1")
    as_json: Any = {"role": "user", "content": "please"}  # messages may arrive as JSON objects
    thread, _ = agent.run_turn(
        thread, [ChatMessage(role="user", content="shorter"), as_json], thread_id="t1"
    )

    assert [m.content for m in thread.messages if m.role == "user"] == [
        "draft text",
        "shorter",
        "please",
    ]
    assert server.requests[0].messages[0] == {"role": "user", "content": "draft text"}


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (42, "cannot take an int"),
        ([], "cannot take a list"),
        ([{"role": "robot", "content": "x"}], "invalid chat message"),
        ([ChatMessage(role="tool", content="x")], "cannot hold tool calls or tool messages"),
    ],
)
def test_bad_input_is_refused_before_calling_the_model(
    server: LocalOpenAIServer, message: Any, match: str
) -> None:
    agent = Agent("Editor", "Edit.", client_for(server))

    with pytest.raises(AgentInputError, match=match):
        agent.run_turn(AgentThreadState(), message, thread_id="t1")
    assert server.requests == []
