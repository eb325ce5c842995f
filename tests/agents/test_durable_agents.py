"""Durable agents end to end: agents hosted as entities on the embedded backend, called directly
and as workflow nodes, with the real `openai` client against the local OpenAI-compatible server.

The seed scenarios (Joker, ExpertReview, EmailClassification), a worker restart in the middle of
a conversation (real worker processes), session time-to-live, thread isolation, and bad model
responses (invalid JSON, HTTP 429, HTTP 500) through the durable path.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from durable_workflows import (
    Case,
    Default,
    DurableWorkflowHost,
    DurableWorkflowsError,
    InvalidResponseError,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowFailedError,
    executor,
)
from durable_workflows.agents import Agent, AgentResponse, OpenAIChatClient
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.agent_client import DurableAgent
from durable_workflows.hosting.client import WorkflowClient
from durable_workflows.hosting.embedded import EmbeddedBackend
from durable_workflows.model.agent_nodes import AgentNode
from durable_workflows.testing.openai_server import LocalOpenAIServer

from .durable_agent_worker import JOKER_INSTRUCTIONS
from .durable_agent_worker import joker as make_joker

WORKER_SCRIPT = Path(__file__).with_name("durable_agent_worker.py")
TIMEOUT = 60.0

PHYSICIST = "You are a physicist. Answer from the point of view of physics."
CHEMIST = "You are a chemist. Answer from the point of view of chemistry."
SPAM_DETECTOR = "You detect spam emails. Decide whether the email is spam."


class EmailVerdict(BaseModel):
    is_spam: bool
    reason: str


# -- the model: one local server answering per system prompt ---------------------------------


@dataclass
class Concurrency:
    """How many expert requests the server handled at the same time."""

    active: int = 0
    peak: int = 0


class Models:
    """Answers like a model would, per system prompt; counts overlapping expert calls."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.experts = Concurrency()

    def __call__(self, body: dict[str, Any]) -> str | Mapping[str, Any]:
        messages = body["messages"]
        system = messages[0]["content"] if messages[0]["role"] == "system" else ""
        user = messages[-1]["content"]
        turn = sum(1 for m in messages if m["role"] == "user")
        if system == PHYSICIST:
            return self._expert(f"physics: {user} is a matter of energy")
        if system == CHEMIST:
            return self._expert(f"chemistry: {user} is a matter of bonds")
        if body.get("response_format"):  # SpamDetector and Structured: an EmailVerdict
            spam = "WINNER" in user
            return {"is_spam": spam, "reason": "prize scam" if spam else "personal note"}
        if system == JOKER_INSTRUCTIONS:
            return f"Arr, pirate joke #{turn} about {user!r}"
        return f"turn {turn}: {user}"

    def _expert(self, answer: str) -> str:
        with self.lock:
            self.experts.active += 1
            self.experts.peak = max(self.experts.peak, self.experts.active)
        time.sleep(0.4)  # long enough for a parallel sibling to overlap
        with self.lock:
            self.experts.active -= 1
        return answer


# -- agents and workflows -------------------------------------------------------------------


def chat(server: LocalOpenAIServer, max_retries: int = 2) -> OpenAIChatClient:
    return OpenAIChatClient(
        "local-model", api_key="test", base_url=server.base_url, max_retries=max_retries
    )


@executor(id="parse_question")
def parse_question(question: str) -> str:
    return question.strip()


@executor(id="aggregate")
def aggregate(answers: list[AgentResponse[Any]], ctx: WorkflowContext[None, str]) -> None:
    ctx.yield_output(" | ".join(sorted(f"{a.agent_name}: {a.text}" for a in answers)))


@executor(id="quarantine")
def quarantine(verdict: AgentResponse[EmailVerdict], ctx: WorkflowContext[None, str]) -> None:
    ctx.yield_output(f"quarantined ({verdict.value.reason})")


@executor(id="deliver")
def deliver(verdict: AgentResponse[EmailVerdict], ctx: WorkflowContext[None, str]) -> None:
    ctx.yield_output(f"delivered ({verdict.value.reason})")


def is_spam(response: AgentResponse[EmailVerdict]) -> bool:
    return response.value.is_spam


@dataclass
class Setup:
    server: LocalOpenAIServer
    models: Models
    address: str
    agents: dict[str, Agent]
    expert_review: Workflow
    email_classification: Workflow
    remembering: Workflow

    @property
    def workflows(self) -> list[Workflow]:
        return [self.expert_review, self.email_classification, self.remembering]


def build_setup(server: LocalOpenAIServer, models: Models, address: str) -> Setup:
    physicist = Agent("Physicist", PHYSICIST, chat(server))
    chemist = Agent("Chemist", CHEMIST, chat(server))
    detector = Agent("SpamDetector", SPAM_DETECTOR, chat(server), EmailVerdict)
    agents = {
        "Joker": Agent("Joker", JOKER_INSTRUCTIONS, chat(server)),
        "Echo": Agent("Echo", "Repeat the message.", chat(server)),
        "Structured": Agent("Structured", "Classify.", chat(server), EmailVerdict),
        "Shorty": Agent("Shorty", "Be brief.", chat(server), session_ttl=timedelta(seconds=1)),
        "Forever": Agent("Forever", "Be brief.", chat(server), session_ttl=None),
    }
    expert_review = (
        WorkflowBuilder(parse_question, name="ExpertReview")
        .add_fan_out_edge(parse_question, [physicist, chemist])
        .add_fan_in_barrier_edge([physicist, chemist], aggregate)
        .build()
    )
    email_classification = (
        WorkflowBuilder(detector, name="EmailClassification")
        .add_switch_case_edge_group(detector, [Case(is_spam, quarantine), Default(deliver)])
        .build()
    )
    memo = Agent("Memo", "Remember everything.", chat(server))
    remembering = WorkflowBuilder(
        AgentNode(memo, id="memo", session_key="shared-memo"), name="Remembering"
    ).build()
    return Setup(server, models, address, agents, expert_review, email_classification, remembering)


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    """One model server, one embedded backend and one worker-only host for the module."""
    models = Models()
    with LocalOpenAIServer(models) as server, EmbeddedBackend() as backend:
        built = build_setup(server, models, backend.address)
        worker = DurableWorkflowHost(
            workflows=built.workflows,
            agents=list(built.agents.values()),
            connection_string=backend.address,
            mode="worker",
        )
        worker.start()
        try:
            yield built
        finally:
            worker.stop()


@dataclass
class Clients:
    host: DurableWorkflowHost

    def agent(self, name: str) -> DurableAgent:
        return self.host.agents.get(name)

    @property
    def workflows(self) -> WorkflowClient:
        return self.host.client


def drive(setup: Setup, body: Callable[[Clients], Awaitable[Any]]) -> Any:
    """Run `body` in a fresh event loop with a client-only host of its own."""

    async def main() -> Any:
        async with DurableWorkflowHost(
            workflows=setup.workflows,
            agents=list(setup.agents.values()),
            connection_string=setup.address,
            mode="client",
        ) as host:
            return await asyncio.wait_for(body(Clients(host)), TIMEOUT)

    return asyncio.run(main())


def pairs(messages: list[Any]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages]


# -- Joker: a multi-turn thread, and a worker restart in the middle of it -------------------


def test_joker_thread_continues_across_calls(setup: Setup) -> None:
    async def body(c: Clients) -> tuple[Any, Any, Any]:
        joker = c.agent("Joker")
        first = await joker.run("Tell me a pirate joke", thread_id=None)
        second = await joker.run("Another one about parrots", thread_id=first.thread_id)
        return first, second, await joker.get_history(first.thread_id)

    first, second, history = drive(setup, body)

    assert first.thread_id.startswith("@dafx-joker@") and len(first.thread_id) > 12
    assert second.thread_id == first.thread_id
    assert first.agent_name == "Joker" and second.usage.total_tokens > 0
    assert first.text == "Arr, pirate joke #1 about 'Tell me a pirate joke'"
    assert second.text == "Arr, pirate joke #2 about 'Another one about parrots'"
    assert pairs(history) == [
        ("user", "Tell me a pirate joke"),
        ("assistant", first.text),
        ("user", "Another one about parrots"),
        ("assistant", second.text),
    ]
    sent = [
        r.messages
        for r in setup.server.requests
        if r.messages[-1]["content"].startswith("Another one about parrots")
    ]
    assert sent[-1] == [
        {"role": "system", "content": JOKER_INSTRUCTIONS},
        {"role": "user", "content": "Tell me a pirate joke"},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "Another one about parrots"},
    ]


def start_worker(backend: str, base_url: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, str(WORKER_SCRIPT), backend, base_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the worker is connected (or died)
    if line.strip() != "ready":
        process.kill()
        process.wait(10)
        raise AssertionError(f"the worker did not start (exit code {process.poll()})")
    return process


def stop_worker(process: subprocess.Popen[str], *, crash: bool) -> None:
    if process.poll() is None:
        if crash:
            process.kill()
        else:
            assert process.stdin is not None
            process.stdin.close()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def test_joker_thread_survives_a_worker_restart(server: LocalOpenAIServer) -> None:
    """Worker #1 (a process) runs the first turn and is killed; worker #2, a new process with
    a fresh `Agent` object, continues the same thread."""
    server.responder = Models()
    with EmbeddedBackend() as backend:
        worker = start_worker(backend.address, server.base_url)
        try:

            async def main() -> tuple[Any, Any, Any, Any]:
                nonlocal worker
                async with DurableWorkflowHost(
                    agents=[make_joker(server.base_url)],
                    connection_string=backend.address,
                    mode="client",
                ) as client_host:
                    joker = client_host.agents.get("Joker")
                    first = await joker.run("Tell me a pirate joke", thread_id=None)
                    before = await joker.get_history(first.thread_id)
                    await asyncio.to_thread(stop_worker, worker, crash=True)
                    worker = await asyncio.to_thread(start_worker, backend.address, server.base_url)
                    second = await joker.run("One more, matey", thread_id=first.thread_id)
                    return first, before, second, await joker.get_history(first.thread_id)

            first, before, second, history = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
        finally:
            stop_worker(worker, crash=False)

    assert len(before) == 2
    assert second.thread_id == first.thread_id
    assert second.text == "Arr, pirate joke #2 about 'One more, matey'"
    assert pairs(history) == [
        ("user", "Tell me a pirate joke"),
        ("assistant", first.text),
        ("user", "One more, matey"),
        ("assistant", second.text),
    ]
    assert len(server.requests) == 2
    assert server.requests[1].messages[1:3] == [
        {"role": "user", "content": "Tell me a pirate joke"},
        {"role": "assistant", "content": first.text},
    ]


# -- workflows: ExpertReview (fan-out / fan-in) and EmailClassification (switch-case) --------


def test_expert_review_runs_both_experts_in_parallel_into_the_aggregator(setup: Setup) -> None:
    async def body(c: Clients) -> Any:
        run = await c.workflows.run(setup.expert_review, "  Why is the sky blue?  ")
        return await run.wait_for_completion()

    result = drive(setup, body)

    assert result == (
        "Chemist: chemistry: Why is the sky blue? is a matter of bonds"
        " | Physicist: physics: Why is the sky blue? is a matter of energy"
    )
    assert setup.models.experts.peak == 2, "the two experts did not run at the same time"


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        (
            "You are a WINNER! Send your bank details to claim the prize.",
            "quarantined (prize scam)",
        ),
        ("Lunch tomorrow at noon? -- Sam", "delivered (personal note)"),
    ],
)
def test_email_classification_routes_on_the_structured_verdict(
    setup: Setup, email: str, expected: str
) -> None:
    async def body(c: Clients) -> tuple[Any, list[Any]]:
        run = await c.workflows.run(setup.email_classification, email)
        result = await run.wait_for_completion()
        history = await c.agent("SpamDetector").get_history(f"@dafx-spamdetector@{run.run_id}")
        return result, history

    result, history = drive(setup, body)

    assert result == expected
    assert [m.role for m in history] == ["user", "assistant"]  # the run's own thread
    assert history[0].content == email


def test_workflow_agent_sessions_are_per_run_unless_a_key_is_given(setup: Setup) -> None:
    async def body(c: Clients) -> tuple[Any, Any, Any]:
        answers = []
        for text in ("first note", "second note"):
            run = await c.workflows.run(setup.remembering, text)
            answers.append(await run.wait_for_completion())
        history = await c.agent("Memo").get_history("@dafx-memo@shared-memo")
        detector = c.agent("SpamDetector")
        runs = [await c.workflows.run(setup.email_classification, t) for t in ("a", "b")]
        for run in runs:
            await run.wait_for_completion()
        per_run = [await detector.get_history(f"@dafx-spamdetector@{r.run_id}") for r in runs]
        return answers, history, per_run

    answers, history, per_run = drive(setup, body)

    assert [a.text for a in answers] == ["turn 1: first note", "turn 2: second note"]
    assert [m.content for m in history if m.role == "user"] == ["first note", "second note"]
    assert [[m.content for m in h if m.role == "user"] for h in per_run] == [["a"], ["b"]]


# -- session time-to-live ----------------------------------------------------------------------


def test_idle_thread_is_deleted_after_the_session_ttl(setup: Setup) -> None:
    async def body(c: Clients) -> tuple[Any, Any, Any, Any]:
        shorty, forever = c.agent("Shorty"), c.agent("Forever")
        short = await shorty.run("remember me briefly")
        kept = await forever.run("remember me forever")
        right_after = await shorty.get_history(short.thread_id)
        deadline = time.monotonic() + 10
        expired = right_after
        while expired and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            expired = await shorty.get_history(short.thread_id)
        return right_after, expired, await forever.get_history(kept.thread_id), short

    right_after, expired, kept, short = drive(setup, body)

    assert len(right_after) == 2
    assert expired == [], "the thread outlived its 1 s session TTL by 10 s"
    assert len(kept) == 2  # session_ttl=None: never expires

    async def continue_expired(c: Clients) -> tuple[Any, Any]:
        shorty = c.agent("Shorty")
        again = await shorty.run("are you there?", thread_id=short.thread_id)
        return again, await shorty.get_history(short.thread_id)

    again, history = drive(setup, continue_expired)
    assert again.text == "turn 1: are you there?"  # a fresh conversation on the same id
    assert pairs(history) == [("user", "are you there?"), ("assistant", again.text)]


def test_a_used_thread_is_not_expired_early(setup: Setup) -> None:
    """Each turn re-arms the TTL: a thread used every 0.25 s with a 1 s TTL outlives the
    expire signal scheduled by its first turn."""

    async def body(c: Clients) -> list[Any]:
        shorty = c.agent("Shorty")
        response = await shorty.run("one")
        for text in ("two", "three", "four", "five", "six"):
            await asyncio.sleep(0.25)
            response = await shorty.run(text, thread_id=response.thread_id)
        return await shorty.get_history(response.thread_id)

    history = drive(setup, body)
    assert [m.content for m in history if m.role == "user"] == [
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
    ]


# -- isolation -------------------------------------------------------------------------------


def test_threads_and_agents_are_isolated(setup: Setup) -> None:
    async def body(c: Clients) -> dict[str, Any]:
        joker, echo = c.agent("Joker"), c.agent("Echo")
        a1 = await joker.run("alpha one")
        b1 = await joker.run("bravo one")
        a2 = await joker.run("alpha two", thread_id=a1.thread_id)
        # the same key under another agent is another thread
        key = a1.thread_id.removeprefix("@dafx-joker@")
        e1 = await echo.run("echo one", thread_id=f"@dafx-echo@{key}")
        with pytest.raises(InvalidResponseError, match="is not a thread of agent 'Echo'"):
            await echo.get_history(a1.thread_id)
        return {
            "a": await joker.get_history(a1.thread_id),
            "b": await joker.get_history(b1.thread_id),
            "e": await echo.get_history(e1.thread_id),
            "a2": a2,
            "b1": b1,
            "e1": e1,
        }

    got = drive(setup, body)

    assert got["b1"].thread_id != got["a2"].thread_id
    assert [m.content for m in got["a"] if m.role == "user"] == ["alpha one", "alpha two"]
    assert [m.content for m in got["b"] if m.role == "user"] == ["bravo one"]
    assert [m.content for m in got["e"] if m.role == "user"] == ["echo one"]
    assert got["e1"].text == "turn 1: echo one"
    sent = {r.messages[-1]["content"]: r.messages for r in setup.server.requests}
    assert [m["content"] for m in sent["bravo one"]] == [JOKER_INSTRUCTIONS, "bravo one"]
    assert [m["content"] for m in sent["echo one"]] == ["Repeat the message.", "echo one"]
    assert "bravo one" not in str(sent["alpha two"])


# -- bad model responses through the durable path ----------------------------------------------


def run_then_fail(
    setup: Setup, agent_name: str, script: Callable[[LocalOpenAIServer], None], message: str
) -> tuple[Any, list[Any], BaseException, list[Any]]:
    async def body(c: Clients) -> tuple[Any, list[Any], BaseException, list[Any]]:
        agent = c.agent(agent_name)
        first = await agent.run("a good first turn")
        before = await agent.get_history(first.thread_id)
        script(setup.server)
        with pytest.raises(DurableWorkflowsError) as caught:
            await agent.run(message, thread_id=first.thread_id)
        return first, before, caught.value, await agent.get_history(first.thread_id)

    result: tuple[Any, list[Any], BaseException, list[Any]] = drive(setup, body)
    return result


def test_invalid_json_for_structured_output_fails_the_turn_and_keeps_the_thread(
    setup: Setup,
) -> None:
    first, before, error, after = run_then_fail(
        setup, "Structured", lambda s: s.reply_invalid_json_next(1), "classify this"
    )

    assert first.value is not None
    assert "'Structured'" in str(error) and "not valid JSON" in str(error)
    assert first.thread_id in str(error)
    assert after == before and len(after) == 2


def test_http_500_repeated_fails_the_turn_and_keeps_the_thread(setup: Setup) -> None:
    # max_retries=2: three attempts, all answered with HTTP 500
    _, before, error, after = run_then_fail(
        setup, "Echo", lambda s: s.fail_next(3, status=500), "will fail"
    )

    assert "'Echo'" in str(error) and "HTTP 500" in str(error) and "after 2 retries" in str(error)
    assert after == before and len(after) == 2


def test_http_429_once_is_retried_by_the_client(setup: Setup) -> None:
    async def body(c: Clients) -> tuple[Any, Any, int]:
        echo = c.agent("Echo")
        first = await echo.run("before the rate limit")
        count = len(setup.server.requests)
        setup.server.fail_next(1, status=429)
        second = await echo.run("during the rate limit", thread_id=first.thread_id)
        attempts = len(setup.server.requests) - count
        return second, await echo.get_history(first.thread_id), attempts

    second, history, attempts = drive(setup, body)

    assert second.text == "turn 2: during the rate limit"
    assert attempts == 2  # the 429, then the retry
    assert [m.content for m in history if m.role == "user"] == [
        "before the rate limit",
        "during the rate limit",
    ]


def test_invalid_json_in_a_workflow_fails_the_run_naming_the_agent(setup: Setup) -> None:
    async def body(c: Clients) -> tuple[BaseException, list[Any]]:
        setup.server.reply_invalid_json_next(1)
        run = await c.workflows.run(setup.email_classification, "some email")
        with pytest.raises(WorkflowFailedError) as caught:
            await run.wait_for_completion()
        history = await c.agent("SpamDetector").get_history(f"@dafx-spamdetector@{run.run_id}")
        return caught.value, history

    error, history = drive(setup, body)

    assert "SpamDetector" in str(error) and "not valid JSON" in str(error)
    assert history == []
