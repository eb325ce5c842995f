"""The agent routes through httpx's ASGI transport (deterministic stand-in models)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from .conftest import Api

pytestmark = pytest.mark.e2e

PIRATE = "Why did the pirate go to school? To improve his arrr-ticulation."


def test_list_agents_with_their_response_schemas(api: Api) -> None:
    agents = {a["name"]: a for a in api(lambda c: c.get("/api/agents")).json()["agents"]}
    assert set(agents) == {"Joker", "Rater", "Forecaster", "Broken"}
    assert agents["Joker"]["responseSchema"] is None
    assert agents["Rater"]["responseSchema"]["required"] == ["score", "reason"]


def test_plain_text_message_gets_a_json_reply_and_the_thread_header(api: Api) -> None:
    response = api(
        lambda c: c.post(
            "/api/agents/Joker/run",
            content="Tell me a joke about a pirate.",
            headers={"content-type": "text/plain"},
        )
    )
    assert response.status_code == 200
    body = response.json()
    assert body["response"] == PIRATE
    assert body["threadId"].startswith("@dafx-joker@")
    assert response.headers["x-ms-thread-id"] == body["threadId"]
    assert (
        body["usage"]["totalTokens"] == body["usage"]["inputTokens"] + body["usage"]["outputTokens"]
    )


def test_thread_continues_from_query_header_or_body(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[Any]:
        first = await c.post("/api/agents/Joker/run", json={"message": "a pirate joke"})
        thread = first.json()["threadId"]
        await c.post(f"/api/agents/Joker/run?thread_id={thread}", json={"message": "another"})
        await c.post(
            "/api/agents/Joker/run", json={"message": "more"}, headers={"x-ms-thread-id": thread}
        )
        await c.post("/api/agents/Joker/run", json={"message": "last", "threadId": thread})
        history = await c.get(f"/api/agents/Joker/threads/{thread}")
        conflict = await c.post(
            f"/api/agents/Joker/run?thread_id={thread}", json={"message": "x", "threadId": "other"}
        )
        return [thread, history, conflict]

    thread, history, conflict = api(body)
    messages = history.json()["messages"]
    assert history.json()["threadId"] == thread
    assert [m["role"] for m in messages] == ["user", "assistant"] * 4
    assert [m["content"] for m in messages[::2]] == ["a pirate joke", "another", "more", "last"]
    assert conflict.status_code == 400 and "conflicting" in conflict.json()["error"]["message"]


def test_a_bare_key_names_a_thread_of_the_agent(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        first = await c.post("/api/agents/Joker/run?thread_id=my-key", content="hello")
        history = await c.get("/api/agents/Joker/threads/my-key")
        return [first, history]

    first, history = api(body)
    assert first.json()["threadId"] == "@dafx-joker@my-key"
    assert history.json()["threadId"] == "@dafx-joker@my-key"


def test_accept_text_plain_gets_the_text(api: Api) -> None:
    response = api(
        lambda c: c.post(
            "/api/agents/Joker/run", content="pirate?", headers={"accept": "text/plain"}
        )
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == PIRATE


def test_structured_agent_replies_with_its_value_as_json(api: Api) -> None:
    response = api(lambda c: c.post("/api/agents/Rater/run", json={"message": "rate this"}))
    assert response.json()["response"] == {"score": 7, "reason": "solid pun"}


def test_wait_for_response_false_returns_202_at_once(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[Any]:
        accepted = await c.post(
            "/api/agents/Joker/run",
            content="pirate, later",
            headers={"x-ms-wait-for-response": "false"},
        )
        thread = accepted.json()["threadId"]
        for _ in range(250):
            history = await c.get(f"/api/agents/Joker/threads/{thread}")
            if history.status_code == 200:
                break
            await asyncio.sleep(0.02)
        return [accepted, history]

    accepted, history = api(body)
    assert accepted.status_code == 202
    assert accepted.json()["status"] == "accepted"
    assert accepted.headers["x-ms-thread-id"] == accepted.json()["threadId"]
    assert [m["content"] for m in history.json()["messages"]] == ["pirate, later", PIRATE]


def test_threads_are_listed_and_deleted(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[Any]:
        thread = (await c.post("/api/agents/Rater/run", content="one")).json()["threadId"]
        listed = (await c.get("/api/agents/Rater/threads")).json()["threads"]
        deleted = await c.delete(f"/api/agents/Rater/threads/{thread}")
        for _ in range(250):
            after = await c.get(f"/api/agents/Rater/threads/{thread}")
            if after.status_code == 404:
                break
            await asyncio.sleep(0.02)
        return [thread, listed, deleted, after]

    thread, listed, deleted, after = api(body)
    assert thread in [t["threadId"] for t in listed]
    assert deleted.status_code == 204
    assert after.status_code == 404


def test_agent_request_errors(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await c.post("/api/agents/Nobody/run", content="hi"),
            await c.post("/api/agents/Joker/run?thread_id=@dafx-rater@abc", content="hi"),
            await c.post(
                "/api/agents/Joker/run",
                json={"message": "hi", "responseFormat": {"type": "object"}},
            ),
            await c.post("/api/agents/Joker/run", content=""),
            await c.get("/api/agents/Joker/threads/never-used"),
        ]

    unknown, foreign, fmt, empty, missing = api(body)
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "WorkflowNotFoundError"
    assert foreign.status_code == 400 and foreign.json()["error"]["type"] == "InvalidThreadIdError"
    assert fmt.status_code == 400 and "response format" in fmt.json()["error"]["message"]
    assert empty.status_code == 400
    assert missing.status_code == 404
