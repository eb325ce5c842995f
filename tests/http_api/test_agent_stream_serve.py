"""A streamed agent reply from `durable-workflows serve` as a real process, whose model is the
local OpenAI-compatible server reached by the real `openai` client: a reader disconnects
halfway (the model still producing), then resumes from its cursor and gets every delta once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply

from .test_agent_stream_routes import Event, sse
from .test_serve_process import Served, start_serve, stop

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WORDS = tuple(f"word{i} " for i in range(1, 11))


@pytest.fixture
def model() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer() as server:
        yield server


@pytest.fixture
def served(model: LocalOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    for name in ("AZURE_OPENAI_ENDPOINT", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", model.base_url)
    running = start_serve("examples/joker_agent.py:joker")
    try:
        yield running
    finally:
        stop(running.process)


def read_until(response: httpx.Response, deltas: int) -> list[Event]:
    """The events of a streamed response up to its `deltas`-th delta (then stop reading)."""
    text = ""
    for chunk in response.iter_text():
        text += chunk
        complete = sse(text[: text.rfind("\n\n") + 2])
        if sum(e.event == "delta" for e in complete) >= deltas:
            return complete
    raise AssertionError(f"the stream ended early: {text!r}")


def test_a_reader_disconnects_halfway_and_resumes_from_its_cursor(
    served: Served, model: LocalOpenAIServer
) -> None:
    release = threading.Event()
    model.enqueue(ServerReply(chunks=WORDS, hold_after=5, release=release))
    agents = f"{served.url}/api/agents/Joker"
    with httpx.Client(timeout=60) as http:
        with http.stream("POST", f"{agents}/run?stream=true", content="Tell a story") as first:
            assert first.status_code == 200
            stream_id = first.headers["x-stream-id"]
            before = read_until(first, 5)
        live = not release.is_set()  # the model is still held: the deltas came as produced
        release.set()  # the model goes on while no reader is connected

        resumed = http.get(
            f"{agents}/streams/{stream_id}", headers={"last-event-id": str(before[-1].id)}
        )
        thread = first.headers["x-ms-thread-id"]
        history = http.get(f"{agents}/threads/{thread}").json()["messages"]

    assert live
    assert before[0].event == "start" and before[0].data["streamId"] == stream_id
    after = sse(resumed.text)
    deltas = [e for e in before + after if e.event == "delta"]
    assert [e.id for e in deltas] == list(range(1, 11))  # each delta exactly once
    assert [e.data["text"] for e in deltas] == list(WORDS)
    assert after[-1].event == "done"
    assert after[-1].data["response"] == "".join(WORDS) == history[-1]["content"]
    assert after[-1].data["usage"]["outputTokens"] == 10
    assert model.requests[-1].body["stream"] is True
