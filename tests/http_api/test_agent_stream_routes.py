"""Streamed agent replies over HTTP (``POST /api/agents/{name}/run?stream=true`` and the resume
route ``GET /api/agents/{name}/streams/{streamId}``) through httpx's ASGI transport, and the
thread history's tool calls. The models are deterministic stand-ins that stream word by word;
the real `serve` process with the `openai` client is in test_agent_stream_serve.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from durable_workflows.http.sse import with_heartbeat

from .conftest import Api

pytestmark = pytest.mark.e2e

PIRATE = "Why did the pirate go to school? To improve his arrr-ticulation."
OSLO = "It is 18 degrees and sunny in Oslo."


@dataclass(frozen=True)
class Event:
    event: str
    data: Any
    id: int | None = None


def sse(text: str) -> list[Event]:
    """The events of an SSE body (comments and ``retry:`` skipped)."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and line[0] != ":")
        if "event" in fields:
            event_id = int(fields["id"]) if "id" in fields else None
            events.append(Event(fields["event"], json.loads(fields["data"]), event_id))
    return events


def deltas(events: list[Event]) -> list[tuple[int | None, str]]:
    return [(e.id, e.data["text"]) for e in events if e.event == "delta"]


def test_a_streamed_turn_sends_its_deltas_then_the_reply(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        streamed = await c.post("/api/agents/Joker/run?stream=true", content="a pirate joke")
        thread = streamed.headers["x-ms-thread-id"]
        return [streamed, await c.get(f"/api/agents/Joker/threads/{thread}")]

    streamed, history = api(body)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.headers["cache-control"] == "no-cache"
    events = sse(streamed.text)
    start, *middle, done = events
    stream_id = streamed.headers["x-stream-id"]
    assert start == Event(
        "start",
        {
            "streamId": stream_id,
            "threadId": streamed.headers["x-ms-thread-id"],
            "streamUrl": f"http://test/api/agents/Joker/streams/{stream_id}",
        },
    )
    assert {e.event for e in middle} == {"delta"}
    assert [e.id for e in middle] == [e.data["cursor"] for e in middle] == list(range(1, 12))
    assert "".join(text for _, text in deltas(events)) == PIRATE
    assert done.event == "done" and done.id is None
    assert done.data["response"] == PIRATE and done.data["streamId"] == stream_id
    assert done.data["threadId"] == start.data["threadId"]
    assert done.data["usage"]["outputTokens"] == 11
    assert [m["content"] for m in history.json()["messages"]] == ["a pirate joke", PIRATE]


def test_a_reader_resumes_after_its_cursor_and_gets_every_delta_once(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        url = "/api/agents/Joker/streams/joke-7"
        return [
            await c.post("/api/agents/Joker/run?stream=true&streamId=joke-7", content="pirate"),
            await c.get(url, headers={"last-event-id": "4"}),
            await c.get(f"{url}?cursor=9", headers={"last-event-id": "4"}),  # the query wins
            await c.get(f"{url}?cursor=0"),
            await c.get(f"{url}?cursor=11"),
        ]

    streamed, after_4, after_9, replay, at_end = api(body)
    everything = deltas(sse(streamed.text))
    resumed = sse(after_4.text)
    # the reader kept the first 4 deltas, then resumed with its last cursor
    assert everything[:4] + deltas(resumed) == everything
    assert [cursor for cursor, _ in everything] == list(range(1, 12))
    assert resumed[0].data["streamId"] == "joke-7"
    assert resumed[0].data["threadId"] == streamed.headers["x-ms-thread-id"]
    assert resumed[-1].event == "done" and resumed[-1].data["response"] == PIRATE
    assert deltas(sse(after_9.text)) == everything[9:]
    assert deltas(sse(replay.text)) == everything
    assert [e.event for e in sse(at_end.text)] == ["start", "done"]


def test_accept_event_stream_asks_for_a_stream(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        accept = {"accept": "text/event-stream"}
        return [
            await c.post("/api/agents/Joker/run", content="pirate", headers=accept),
            await c.post("/api/agents/Joker/run?stream=false", content="pirate", headers=accept),
        ]

    by_accept, refused = api(body)
    assert [e.event for e in sse(by_accept.text)][-1] == "done"
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["response"] == PIRATE


def test_a_structured_reply_streams_its_json_and_ends_with_the_value(api: Api) -> None:
    streamed = api(lambda c: c.post("/api/agents/Rater/run?stream=true", content="rate"))
    events = sse(streamed.text)
    text = "".join(t for _, t in deltas(events))
    assert json.loads(text) == events[-1].data["response"] == {"score": 7, "reason": "solid pun"}


def test_a_tool_using_turn_streams_its_answer_and_its_thread_shows_the_tool_call(
    api: Api,
) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        url = "/api/agents/Forecaster/run?thread_id=oslo&stream=true"
        return [
            await c.post(url, content="The weather in Oslo?"),
            await c.get("/api/agents/Forecaster/threads/oslo"),
        ]

    streamed, history = api(body)
    events = sse(streamed.text)
    assert "".join(t for _, t in deltas(events)) == events[-1].data["response"] == OSLO
    assert history.json()["messages"] == [
        {"role": "user", "content": "The weather in Oslo?"},
        {
            "role": "assistant",
            "content": "",
            "toolCalls": [{"id": "call_2", "name": "get_weather", "arguments": '{"city": "Oslo"}'}],
        },
        {
            "role": "tool",
            "content": "18 degrees and sunny in Oslo",
            "toolCallId": "call_2",
            "name": "get_weather",
        },
        {"role": "assistant", "content": OSLO},
    ]


def test_thread_history_keeps_the_tool_calls_of_every_turn(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> httpx.Response:
        for city in ("Oslo", "Lima"):
            url = "/api/agents/Forecaster/run?thread_id=trip"
            reply = await c.post(url, json={"message": f"And in {city}?"})
            assert reply.json()["response"] == f"It is 18 degrees and sunny in {city}."
        return await c.get("/api/agents/Forecaster/threads/trip")

    messages = api(body).json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"] * 2
    calls = [m["toolCalls"][0] for m in messages if "toolCalls" in m]
    assert [json.loads(c["arguments"]) for c in calls] == [{"city": "Oslo"}, {"city": "Lima"}]
    results = [m for m in messages if m["role"] == "tool"]
    assert [r["toolCallId"] for r in results] == [c["id"] for c in calls]
    assert len({c["id"] for c in calls}) == 2


def test_the_openapi_document_describes_tool_calls_and_stream_events(api: Api) -> None:
    document = api(lambda c: c.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    message = schemas["Message"]["properties"]
    assert set(message) == {"role", "content", "toolCalls", "toolCallId", "name"}
    assert message["role"]["enum"] == ["system", "user", "assistant", "tool"]
    assert schemas["ToolCallBody"]["required"] == ["id", "name", "arguments"]
    run = document["paths"]["/api/agents/{name}/run"]["post"]
    assert {p["name"] for p in run["parameters"]} >= {"stream", "streamId"}
    events = run["responses"]["200"]["content"]["text/event-stream"]["schema"]
    assert [v["$ref"].rsplit("/", 1)[1] for v in events["oneOf"]] == [
        "AgentStreamStart",
        "AgentStreamDelta",
        "AgentStreamRestart",
        "AgentStreamDone",
        "ErrorBody",
    ]
    assert set(schemas["AgentStreamDone"]["properties"]) == {
        "streamId",
        "threadId",
        "response",
        "usage",
    }
    resume = document["paths"]["/api/agents/{name}/streams/{stream_id}"]["get"]
    assert {p["name"] for p in resume["parameters"]} >= {"cursor", "last-event-id"}


def test_a_failed_turn_is_502_or_ends_its_stream_with_an_error_event(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await c.post("/api/agents/Broken/run", content="hello"),
            await c.post("/api/agents/Broken/run?stream=true", content="hello"),
        ]

    waited, streamed = api(body)
    assert waited.status_code == 502
    assert waited.json()["error"]["type"] == "AgentTurnFailedError"
    assert streamed.status_code == 200
    start, error = sse(streamed.text)
    assert start.event == "start" and error.event == "error"
    assert error.data["error"]["type"] == "AgentTurnFailedError"
    assert "the model is down (HTTP 503)" in error.data["error"]["message"]


def test_stream_request_errors(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        taken = await c.post("/api/agents/Joker/run?stream=true&streamId=taken-1", content="hi")
        assert taken.status_code == 200
        run = "/api/agents/Joker/run"
        return [
            await c.get("/api/agents/Joker/streams/never-started"),
            await c.get("/api/agents/Rater/streams/taken-1"),  # another agent's stream
            await c.get("/api/agents/Joker/streams/taken-1", headers={"last-event-id": "x"}),
            await c.get("/api/agents/Joker/streams/taken-1?cursor=-1"),
            await c.post(f"{run}?stream=true&streamId=taken-1", content="hi"),
            await c.post(f"{run}?stream=true&streamId=no%20spaces", content="hi"),
            await c.post(f"{run}?streamId=s-9", content="hi"),
            await c.post(f"{run}?stream=maybe", content="hi"),
            await c.post(
                f"{run}?stream=true", content="hi", headers={"x-ms-wait-for-response": "false"}
            ),
        ]

    unknown, foreign, bad_id, negative, taken, spaces, no_stream, maybe, fire = api(body)
    assert unknown.status_code == 404 and "no stream 'never-started'" in unknown.text
    assert foreign.status_code == 404
    assert bad_id.status_code == 400 and "Last-Event-ID must be a cursor" in bad_id.text
    assert negative.status_code == 400
    assert taken.status_code == 409 and taken.json()["error"]["type"] == "ConflictError"
    assert "GET /api/agents/Joker/streams/taken-1" in taken.json()["error"]["message"]
    assert spaces.status_code == 400 and "streamId must be" in spaces.text
    assert no_stream.status_code == 400 and "add ?stream=true" in no_stream.text
    assert maybe.status_code == 400
    assert fire.status_code == 400 and "fire-and-forget" in fire.text


def test_two_starts_with_one_stream_id_give_one_stream_and_one_conflict(api: Api) -> None:
    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        url = "/api/agents/Joker/run?stream=true&streamId=raced-1"
        return list(await asyncio.gather(c.post(url, content="a"), c.post(url, content="b")))

    statuses = sorted(r.status_code for r in api(body))
    assert statuses == [200, 409]


def test_a_quiet_stream_sends_keep_alive_comments() -> None:
    async def slow() -> AsyncGenerator[bytes, None]:
        await asyncio.sleep(0.25)
        yield b"event: late\ndata: {}\n\n"

    async def read() -> list[bytes]:
        return [chunk async for chunk in with_heartbeat(slow(), heartbeat=0.05)]

    chunks = asyncio.run(read())
    assert chunks[0] == b"retry: 1000\n\n" and chunks[-1] == b"event: late\ndata: {}\n\n"
    assert chunks[1:-1] and set(chunks[1:-1]) == {b": keep-alive\n\n"}
