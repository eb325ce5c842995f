"""Agent definitions, thread ids, history limits and TTL (no model calls over the network)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, RootModel

from durable_workflows.agents import (
    DEFAULT_MAX_HISTORY_BYTES,
    DEFAULT_SESSION_TTL,
    Agent,
    AgentHistoryLimitError,
    AgentThreadState,
    ChatMessage,
    DeterministicChatClient,
    InvalidThreadIdError,
    agent_entity_name,
    history_bytes,
    keep_last_messages,
    new_thread_id,
    parse_thread_id,
)
from durable_workflows.errors import DurableWorkflowsError, WorkflowDefinitionError
from durable_workflows.model.agent_protocol import Role


def echo_agent(**kwargs: Any) -> Agent:
    return Agent("Echo", "Repeat.", DeterministicChatClient(), **kwargs)


def thread_of(*contents: str) -> AgentThreadState:
    roles: tuple[Role, Role] = ("user", "assistant")
    return AgentThreadState(
        messages=[ChatMessage(role=roles[i % 2], content=c) for i, c in enumerate(contents)],
        last_used=1000.0,
    )


@pytest.mark.parametrize("name", ["Joker", "a", "Physicist_2", "spam-detector", "A" * 63])
def test_valid_agent_names(name: str) -> None:
    assert Agent(name, "", DeterministicChatClient()).name == name


@pytest.mark.parametrize("name", ["", "2fast", "_hidden", "has space", "a.b", "x@y", "A" * 64, 7])
def test_invalid_agent_names_are_refused(name: Any) -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"Agent name .* is not valid"):
        Agent(name, "", DeterministicChatClient())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chat_client": object()}, "chat_client must be a ChatClient"),
        ({"instructions": None}, "instructions must be a string"),
        ({"response_format": dict}, "must be a pydantic model class"),
        ({"response_format": RootModel[list[int]]}, "must be an object model"),
        ({"session_ttl": timedelta(0)}, "session_ttl must be a positive timedelta"),
        ({"session_ttl": 3600}, "session_ttl must be a positive timedelta, None .* or 'default'"),
        ({"max_history_bytes": 0}, "max_history_bytes must be positive"),
    ],
)
def test_bad_definitions_are_refused(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"instructions": "x", "chat_client": DeterministicChatClient()}
    with pytest.raises(WorkflowDefinitionError, match=match):
        Agent("Bad", **{**args, **kwargs})


def test_thread_ids_are_printable_entity_ids() -> None:
    first, second = new_thread_id("Joker"), new_thread_id("Joker")

    assert re.fullmatch(r"@dafx-joker@[0-9a-f]{32}", first)
    assert first != second
    parsed = parse_thread_id(first, agent_name="Joker")
    assert (parsed.agent, parsed.entity_name, str(parsed)) == ("joker", "dafx-joker", first)
    assert agent_entity_name("Joker") == "dafx-joker"


def test_thread_ids_accept_workflow_thread_keys() -> None:
    parsed = parse_thread_id("@dafx-reviewer@run-42.Reviewer.3.0", agent_name="REVIEWER")

    assert parsed.key == "run-42.Reviewer.3.0"


@pytest.mark.parametrize(
    "thread_id", ["", "joker@abc", "@joker@abc", "@dafx-joker", "@dafx-joker@", "@dafx-jo ker@a"]
)
def test_malformed_thread_ids_are_refused(thread_id: str) -> None:
    with pytest.raises(InvalidThreadIdError, match="is not a thread id"):
        parse_thread_id(thread_id)


def test_thread_of_another_agent_is_refused() -> None:
    with pytest.raises(InvalidThreadIdError, match="belongs to agent 'chemist', not 'Physicist'"):
        parse_thread_id(new_thread_id("Chemist"), agent_name="Physicist")


def test_session_ttl_default_override_and_never() -> None:
    thread = thread_of("hi", "hello")

    assert timedelta(days=14) == DEFAULT_SESSION_TTL
    assert echo_agent().expires_at(thread) == 1000.0 + 14 * 86400
    assert echo_agent(session_ttl=timedelta(hours=1)).expires_at(thread) == 4600.0
    assert echo_agent(session_ttl=None).expires_at(thread) is None
    # the host's default applies only to agents that do not set their own
    assert echo_agent().session_ttl == "default"
    assert echo_agent().expires_at(thread, default_ttl=timedelta(seconds=5)) == 1005.0
    assert echo_agent().expires_at(thread, default_ttl=None) is None
    own = echo_agent(session_ttl=timedelta(hours=1))
    assert own.expires_at(thread, default_ttl=timedelta(seconds=5)) == 4600.0
    assert echo_agent().expires_at(AgentThreadState()) is None


def test_history_limit_is_checked_before_calling_the_model() -> None:
    client = DeterministicChatClient()
    agent = Agent("Echo", "", client, max_history_bytes=2_000)
    thread = thread_of("x" * 1_000, "y" * 1_000)
    before = thread.model_dump()

    with pytest.raises(AgentHistoryLimitError) as caught:
        agent.run_turn(thread, "more", thread_id="t1")

    error = caught.value
    assert isinstance(error, DurableWorkflowsError)
    assert error.limit == 2_000 and error.size > 2_000 and error.agent_name == "Echo"
    assert "max_history_bytes=2000" in str(error)
    assert "agent.compact(thread, keep_last=N)" in str(error)
    assert "history_reducer=keep_last_messages(N)" in str(error)
    assert client.calls == []
    assert thread.model_dump() == before


def test_history_limit_is_checked_after_the_reply() -> None:
    agent = Agent("Echo", "", DeterministicChatClient(default="z" * 500), max_history_bytes=400)

    with pytest.raises(AgentHistoryLimitError, match="would hold"):
        agent.run_turn(AgentThreadState(), "hi", thread_id="t1")


def test_history_reducer_trims_instead_of_failing() -> None:
    client = DeterministicChatClient(default="ok")
    agent = Agent("Echo", "", client, max_history_bytes=300, history_reducer=keep_last_messages(3))
    thread = AgentThreadState()

    for turn in range(10):
        thread, _ = agent.run_turn(thread, f"message number {turn}", thread_id="t1")

    assert history_bytes(thread.messages) <= 300
    assert thread.messages[0].role == "user"
    assert thread.messages[-2:] == [
        ChatMessage(role="user", content="message number 9"),
        ChatMessage(role="assistant", content="ok"),
    ]


def test_a_reducer_that_drops_the_new_message_is_refused() -> None:
    agent = Agent(
        "Echo", "", DeterministicChatClient(), max_history_bytes=100, history_reducer=lambda m: []
    )

    with pytest.raises(AgentHistoryLimitError, match="must keep the last message"):
        agent.run_turn(AgentThreadState(), "x" * 200, thread_id="t1")


def test_compact_keeps_the_last_messages_from_a_user_turn() -> None:
    thread = thread_of("u1", "a1", "u2", "a2", "u3", "a3")

    compacted = echo_agent().compact(thread, keep_last=3)

    assert [m.content for m in compacted.messages] == ["u3", "a3"]
    assert [m.content for m in echo_agent().compact(thread, keep_last=4).messages] == [
        "u2",
        "a2",
        "u3",
        "a3",
    ]
    assert compacted.last_used == thread.last_used
    assert len(thread.messages) == 6
    with pytest.raises(WorkflowDefinitionError, match="at least 1"):
        echo_agent().compact(thread, keep_last=0)


def test_default_history_limit_is_one_mebibyte() -> None:
    assert DEFAULT_MAX_HISTORY_BYTES == 1024 * 1024
    assert echo_agent().max_history_bytes == DEFAULT_MAX_HISTORY_BYTES
    assert history_bytes([]) == len(AgentThreadState().model_dump_json())


class Joke(BaseModel):
    setup: str
    punchline: str


def test_deterministic_client_rules_responder_and_defaults() -> None:
    client = DeterministicChatClient(
        rules=[(r"pirate", "Arr!"), ("json", Joke(setup="s", punchline="p"))]
    )
    agent = Agent("Joker", "Be funny.", client)

    _, pirate = agent.run_turn(AgentThreadState(), "A PIRATE joke", thread_id="t")
    _, other = agent.run_turn(AgentThreadState(), "anything", thread_id="t")
    _, model = agent.run_turn(AgentThreadState(), "as json", thread_id="t")

    assert pirate.text == "Arr!"
    assert other.text == "(deterministic reply) anything"
    assert Joke.model_validate_json(model.text) == Joke(setup="s", punchline="p")
    assert client.calls[0][0] == ChatMessage(role="system", content="Be funny.")
    assert pirate.usage.output_tokens == 1 and pirate.usage.input_tokens == 5


def test_deterministic_client_structured_output() -> None:
    structured = Agent("Joker", "", DeterministicChatClient(), Joke)
    custom = Agent(
        "Joker",
        "",
        DeterministicChatClient(
            lambda messages, fmt: {"setup": fmt.__name__ if fmt else "", "punchline": "!"}
        ),
        Joke,
    )
    fenced = Agent(
        "Joker",
        "",
        DeterministicChatClient(default='```json\n{"setup": "a", "punchline": "b"}\n```'),
        Joke,
    )

    assert structured.run_turn(AgentThreadState(), "x", thread_id="t")[1].value == Joke(
        setup="example", punchline="example"
    )
    assert custom.run_turn(AgentThreadState(), "x", thread_id="t")[1].value == Joke(
        setup="Joke", punchline="!"
    )
    assert fenced.run_turn(AgentThreadState(), "x", thread_id="t")[1].value == Joke(
        setup="a", punchline="b"
    )
