"""The local OpenAI-compatible server and the JSON-schema helpers behind structured output."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from enum import Enum
from typing import Any, Generic, Literal, TypeVar

import pytest
from pydantic import BaseModel, Field

from durable_workflows.agents._schema import example_from_schema, schema_name, strict_json_schema
from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply

ItemT = TypeVar("ItemT")


class Color(str, Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str = Field(description="Street and number")
    zip_code: str = Field(min_length=10)


class Person(BaseModel):
    name: str
    age: int = Field(ge=18)
    score: float = 1.5
    active: bool
    tags: list[str]
    favourite: Color
    kind: Literal["human"]
    home: Address
    previous: list[Address] = []
    nickname: str | None = None


class Box(BaseModel, Generic[ItemT]):
    item: ItemT


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_example_values_validate_against_the_model() -> None:
    for schema in (Person.model_json_schema(), strict_json_schema(Person)):
        person = Person.model_validate(example_from_schema(schema))
        assert person.age == 18 and person.favourite is Color.RED and person.kind == "human"
        assert len(person.home.zip_code) >= 10


def test_strict_schema_closes_every_object() -> None:
    schema = strict_json_schema(Person)
    address = schema["$defs"]["Address"]

    assert schema["additionalProperties"] is False
    assert schema["required"] == list(Person.model_fields)
    assert address["additionalProperties"] is False
    assert address["required"] == ["street", "zip_code"]
    assert schema["properties"]["home"] == {"$ref": "#/$defs/Address"}
    assert "default" not in json.dumps(schema)
    assert schema_name(Person) == "Person"
    assert schema_name(Box[int]) == "Box_int"


def test_completion_shape_and_recorded_requests(server: LocalOpenAIServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "one two"}]}

    status, reply = post(f"{server.url}/chat/completions", body)

    assert status == 200
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"] == {
        "role": "assistant",
        "content": "echo: one two",
        "refusal": None,
    }
    assert reply["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    [recorded] = server.requests
    assert recorded.path == "/chat/completions" and recorded.messages == body["messages"]
    assert recorded.json_schema is None


def test_scripted_replies_come_before_the_responder(server: LocalOpenAIServer) -> None:
    server.responder = lambda body: ServerReply(content="from responder")
    server.enqueue(ServerReply(content="first"))
    server.fail_next(1, status=503, retry_after=2.5)
    body: dict[str, Any] = {"messages": []}

    assert (
        post(server.base_url + "/chat/completions", body)[1]["choices"][0]["message"]["content"]
        == "first"
    )
    status, error = post(server.base_url + "/chat/completions", body)
    assert status == 503 and error["error"]["type"] == "server_error"
    assert (
        post(server.base_url + "/chat/completions", body)[1]["choices"][0]["message"]["content"]
        == "from responder"
    )


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v2/chat/completions", {}, 404, "not_found"),
        ("/v1/chat/completions", b"{not json", 400, "invalid_request_error"),
        ("/v1/chat/completions", [1, 2], 400, "invalid_request"),
    ],
)
def test_bad_requests(
    server: LocalOpenAIServer, path: str, body: Any, status: int, code: str
) -> None:
    assert post(server.url + path, body)[0] == status
    assert post(server.url + path, body)[1]["error"]["code"] == code


def test_api_key_is_checked_when_set(server: LocalOpenAIServer) -> None:
    server.api_key = "secret"
    url = f"{server.url}/openai/deployments/d/chat/completions"

    assert post(url, {"messages": []})[0] == 401
    assert post(url, {"messages": []}, {"api-key": "secret"})[0] == 200
    assert post(url, {"messages": []}, {"Authorization": "Bearer secret"})[0] == 200
    assert post(url, {"messages": []}, {"api-key": "wrong"})[0] == 401


def test_stop_closes_the_port() -> None:
    server = LocalOpenAIServer().start()
    port = server.port
    server.stop()
    server.stop()

    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url


def test_streamed_replies_are_server_sent_chunks(server: LocalOpenAIServer) -> None:
    server.enqueue(ServerReply(content="one two three"))
    server.enqueue(ServerReply(tool_calls=(("lookup", {"city": "Oslo"}),)))
    body = {"messages": [{"role": "user", "content": "x"}], "stream": True}
    streamed = {**body, "stream_options": {"include_usage": True}}

    def events(payload: dict[str, Any]) -> list[Any]:
        request = urllib.request.Request(
            server.base_url + "/chat/completions", data=json.dumps(payload).encode()
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            lines = [line for line in response.read().decode().split("\n\n") if line]
        assert lines[-1] == "data: [DONE]"
        return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]

    text = events(streamed)
    calls = events(body)

    deltas = [c["choices"][0]["delta"] for c in text if c["choices"]]
    assert [d.get("content") for d in deltas] == ["", "one ", "two ", "three", None]
    assert text[-2]["choices"][0]["finish_reason"] == "stop"
    assert text[-1]["choices"] == [] and text[-1]["usage"]["completion_tokens"] == 3
    assert calls[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "lookup"
    assert calls[-1]["choices"][0]["finish_reason"] == "tool_calls"
