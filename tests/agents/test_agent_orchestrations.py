"""Agents called from hand-written orchestrations: the ported Agent Framework durable samples
(examples/document_publishing, parallel_experts, spam_detection, content_approval) on the
embedded backend, with the real `openai` client against the local OpenAI server."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from durabletask.task import when_all

from durable_workflows import DurableWorkflowHost, WorkflowFailedError
from durable_workflows.agents import (
    Agent,
    AgentResponse,
    OpenAIChatClient,
    get_agent,
)
from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ["document_publishing", "parallel_experts", "spam_detection", "content_approval"]


def load(name: str) -> ModuleType:
    """examples/<name>.py as module ``example_<name>`` (importable by the in-process worker)."""
    module_name = f"example_{name}"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def samples() -> Iterator[dict[str, ModuleType]]:
    loaded = {name: load(name) for name in SAMPLES}
    yield loaded
    for name in SAMPLES:
        sys.modules.pop(f"example_{name}", None)


class Model:
    """Answers each sample agent by its instructions; counts overlapping expert calls."""

    def __init__(self, samples: dict[str, ModuleType]) -> None:
        self.s = samples
        self.lock = threading.Lock()
        self.active = self.peak = 0

    def __call__(self, body: dict[str, Any]) -> str | dict[str, Any] | ServerReply:
        messages = body["messages"]
        system, user = messages[0]["content"], messages[-1]["content"]
        s = self.s
        if system == s["document_publishing"].RESEARCHER:
            return f"notes on {user.removeprefix('Research the topic: ')}"
        if system == s["document_publishing"].WRITER:
            return {"title": "Article", "body": user.split("\n", 1)[1]}
        if system in (s["parallel_experts"].PHYSICIST, s["parallel_experts"].CHEMIST):
            return self._expert("physics" if "physics" in system else "chemistry", user)
        if system == s["spam_detection"].SPAM_DETECTOR:
            spam = "WINNER" in user
            return {"is_spam": spam, "reason": "prize bait" if spam else "a colleague"}
        if system == s["spam_detection"].EMAIL_ASSISTANT:
            return {"response": f"Re: {user.splitlines()[-1]}"}
        if system == s["content_approval"].WRITER:
            drafts = sum(1 for m in messages if m["role"] == "assistant")
            return {"title": f"Draft {drafts + 1}", "content": user}
        if system == "Use tools.":
            results = [m for m in messages if m["role"] == "tool"]
            if results:
                return f"total: {results[-1]['content']}"
            return ServerReply(tool_calls=(("add", {"a": 2, "b": 3}),))
        return f"echo: {user}"

    def _expert(self, field: str, question: str) -> str:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.4)  # long enough for the parallel sibling to overlap
        with self.lock:
            self.active -= 1
        return f"{field}: {question}"


@pytest.fixture
def model(
    samples: dict[str, ModuleType],
) -> Iterator[tuple[LocalOpenAIServer, Model, OpenAIChatClient]]:
    answers = Model(samples)
    with LocalOpenAIServer(answers) as server:
        client = OpenAIChatClient("m", api_key="k", base_url=server.base_url, max_retries=0)
        yield server, answers, client


def system_prompts(server: LocalOpenAIServer) -> list[str]:
    return [r.messages[0]["content"] for r in server.requests]


def test_document_publishing_researches_writes_and_publishes(
    samples: dict[str, ModuleType], model: Any
) -> None:
    server, _, client = model
    sample = samples["document_publishing"]

    result = asyncio.run(sample.run("tide pools", client))

    assert result == "Published 'Article' (4 words)"  # the body: the research notes
    assert system_prompts(server) == [sample.RESEARCHER, sample.WRITER]
    writer_request = server.requests[1]
    assert writer_request.json_schema is not None
    assert set(writer_request.json_schema["properties"]) == {"title", "body"}
    assert "notes on tide pools" in writer_request.messages[-1]["content"]


def test_parallel_experts_run_at_the_same_time(samples: dict[str, ModuleType], model: Any) -> None:
    _, answers, client = model

    result = asyncio.run(samples["parallel_experts"].run("Why is ice slippery?", client))

    assert result == {
        "physicist": "physics: Why is ice slippery?",
        "chemist": "chemistry: Why is ice slippery?",
    }
    assert answers.peak == 2, "the two experts did not run at the same time"


def test_spam_detection_routes_on_the_structured_verdict(
    samples: dict[str, ModuleType], model: Any
) -> None:
    server, _, client = model
    sample = samples["spam_detection"]

    results = asyncio.run(sample.run(sample.EMAILS, client))

    assert results == [
        "Email marked as spam: prize bait",
        "Email sent: Re: Could you review the quarterly report by Friday?",
    ]
    assert system_prompts(server) == [
        sample.SPAM_DETECTOR,  # spam: the assistant is never called
        sample.SPAM_DETECTOR,
        sample.EMAIL_ASSISTANT,
    ]


def test_content_approval_rewrites_on_feedback_in_the_same_session(
    samples: dict[str, ModuleType], model: Any
) -> None:
    server, _, client = model
    sample = samples["content_approval"]
    decisions = [
        sample.HumanApproval(approved=False, feedback="add a joke"),
        sample.HumanApproval(approved=True),
    ]

    result = asyncio.run(sample.run(sample.ContentRequest(topic="tides"), decisions, client))

    assert result == {"status": "published", "detail": "Published 'Draft 2'"}
    rewrite = server.requests[1].messages
    assert [m["role"] for m in rewrite] == ["system", "user", "assistant", "user"]
    assert "add a joke" in rewrite[-1]["content"]


def test_content_approval_escalates_when_nobody_answers(
    samples: dict[str, ModuleType], model: Any
) -> None:
    _, _, client = model
    sample = samples["content_approval"]
    request = sample.ContentRequest(topic="tides", approval_timeout_seconds=0.5)

    result = asyncio.run(sample.run(request, [], client))

    assert result == {"status": "escalated", "detail": "Escalated 'Draft 1' to the editor"}


def test_content_approval_gives_up_after_the_last_rejection(
    samples: dict[str, ModuleType], model: Any
) -> None:
    _, _, client = model
    sample = samples["content_approval"]
    no = sample.HumanApproval(approved=False, feedback="no")
    request = sample.ContentRequest(topic="tides", max_review_attempts=2)

    result = asyncio.run(sample.run(request, [no, no], client))

    assert result == {"status": "rejected", "detail": "not approved after 2 reviews"}


# -- the orchestration API itself ------------------------------------------------------------


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def calculator_orchestration(ctx: Any, question: str) -> Generator[Any, Any, dict[str, Any]]:
    calculator = get_agent(ctx, "Calculator")
    echo = get_agent(ctx, "Echo")
    session = echo.new_session()
    first, total = yield when_all([echo.run(question, session=session), calculator.run(question)])
    second = yield echo.run("again", session=session.thread_id)  # a thread id string works too
    return {
        "first": first.text,
        "second": second.text,
        "total": total.text,
        "same_thread": first.thread_id == second.thread_id == session.thread_id,
        "typed": isinstance(total, AgentResponse),
    }


def unknown_agent_orchestration(ctx: Any, _: Any) -> Generator[Any, Any, Any]:
    return (yield get_agent(ctx, "Nobody").run("hi"))


def test_tool_agents_sessions_and_when_all_in_an_orchestration(model: Any) -> None:
    server, _, client = model
    agents = [
        Agent("Calculator", "Use tools.", client, tools=[add]),
        Agent("Echo", "Echo.", client),
    ]

    async def main() -> tuple[Any, str]:
        async with DurableWorkflowHost(
            agents=agents, orchestrations=[calculator_orchestration, unknown_agent_orchestration]
        ) as host:
            result = await host.client.run_orchestration(calculator_orchestration, "2+3?")
            with pytest.raises(WorkflowFailedError) as caught:
                await host.client.run_orchestration(unknown_agent_orchestration, timeout=30)
            return result, str(caught.value)

    result, error = asyncio.run(asyncio.wait_for(main(), 60))

    assert result == {
        "first": "echo: 2+3?",
        "second": "echo: again",
        "total": "total: 5",
        "same_thread": True,
        "typed": True,
    }
    echo_again = next(r for r in server.requests if r.messages[-1]["content"] == "again")
    assert [m["content"] for m in echo_again.messages[1:]] == ["2+3?", "echo: 2+3?", "again"]
    assert "no agent named 'Nobody' is hosted" in error


@pytest.mark.e2e
@pytest.mark.parametrize("name", SAMPLES)
def test_sample_script_runs_with_stand_in_agents(name: str) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT")
    }
    proc = subprocess.run(
        [sys.executable, f"examples/{name}.py"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    expected = {
        "document_publishing": "Published 'Durable agents in three facts' (10 words)",
        "parallel_experts": "chemist: Hydrogen bonds form an open lattice.",
        "spam_detection": "Email sent: Thank you for your email; I will reply by Friday.",
        "content_approval": json.dumps("escalated")[1:-1],
    }[name]
    assert expected in proc.stdout
