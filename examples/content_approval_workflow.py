"""ContentApproval: the Agent Framework's human-in-the-loop content sample, as a workflow
(examples/content_approval.py ports it as a hand-written orchestration instead).

Brief -> WriterAgent -> PrepareReview -> HumanApproval (a port with a review window)
-> Review: approved -> Publish; rejected -> back to the WriterAgent with the feedback (at most
three reviews). When nobody answers within the review window, the timeout edge sends the draft
to Escalate instead of failing the run (the samples' ``when_any([approval, timer])``).

The demo runs two topics on the embedded backend: a reviewer rejects the first draft of one
and approves the rewrite; nobody reviews the other, so it is escalated. The reviewer answers
the way the Agent Framework samples do, with an event named after the port and plain JSON:
``run.raise_event("HumanApproval", {"approved": false, "feedback": "..."})``. The workflow's
review window is three days; the demo shortens it to a few seconds.

With ``OPENAI_API_KEY`` or ``AZURE_OPENAI_ENDPOINT`` set the writer calls that model;
otherwise it is a deterministic stand-in.

    python examples/content_approval_workflow.py [--window SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from durable_workflows import (
    AgentResponse,
    DurableWorkflowHost,
    RequestPort,
    RequestTimedOut,
    WaitingForInputEvent,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    executor,
)
from durable_workflows.agents import (
    NO_MODEL_CONFIGURED,
    Agent,
    ChatMessage,
    DeterministicChatClient,
    chat_client_from_env,
)
from durable_workflows.testing import NO_RESPONSE

MAX_REVIEWS = 3
REVIEW_WINDOW = timedelta(days=3)


class ContentRequest(BaseModel):
    topic: str


class Article(BaseModel):
    title: str
    content: str


class HumanApproval(BaseModel):
    approved: bool
    feedback: str = ""


def stand_in_writer(messages: list[ChatMessage], response_format: Any) -> Article:
    """Writes a (very) short article; each rewrite says which feedback it took."""
    topic = messages[1].content.split("'")[1]
    rewrites = [m.content for m in messages if m.role == "user"][1:]
    content = f"A short article about {topic}."
    if rewrites:
        content += f" Revised {len(rewrites)}x: {rewrites[-1].split(': ', 1)[-1]}"
    return Article(title=topic.title(), content=content)


MODEL = chat_client_from_env()
writer = Agent(
    "WriterAgent",
    "You are a professional content writer who creates high-quality articles on various "
    "topics. Return your response as JSON with 'title' and 'content' fields.",
    MODEL if MODEL is not None else DeterministicChatClient(stand_in_writer),
    response_format=Article,
)


@executor(id="Brief")
def brief(request: ContentRequest) -> str:
    return f"Write a short article about '{request.topic}'."


@executor(id="PrepareReview")
def prepare_review(written: AgentResponse[Article], ctx: WorkflowContext) -> Article:
    """Keep the draft and count the reviews; the article goes to the reviewer."""
    ctx.set_state("reviews", (ctx.get_state("reviews") or 0) + 1)
    ctx.set_state("draft", written.value)
    return written.value


@executor(id="Review")
def review(decision: HumanApproval, ctx: WorkflowContext[Article | str, str]) -> None:
    """Approved: publish. Rejected: rewrite with the feedback, or give up after three reviews."""
    draft: Article = ctx.get_state("draft")
    reviews: int = ctx.get_state("reviews")
    if decision.approved:
        ctx.send_message(draft, target_id="Publish")
    elif reviews < MAX_REVIEWS:
        feedback = decision.feedback or "No feedback provided."
        prompt = (
            "The content was rejected by a human reviewer. Please rewrite the article "
            f"incorporating their feedback.\n\nHuman Feedback: {feedback}"
        )
        ctx.send_message(prompt, target_id="WriterAgent")
    else:
        ctx.yield_output(f"'{draft.title}' was not approved after {reviews} reviews.")


@executor(id="Publish")
def publish(article: Article) -> str:
    return f"Published '{article.title}': {article.content}"


@executor(id="Escalate")
def escalate(timed_out: RequestTimedOut[Article], ctx: WorkflowContext) -> str:
    """Nobody reviewed the draft in time (`timed_out.waited`): hand it to the editor-in-chief."""
    ctx.add_event(f"{timed_out.request_id} unanswered after {timed_out.waited}")
    return f"Escalated '{timed_out.request.title}' to the editor-in-chief: no review in time."


def build_workflow(review_window: timedelta = REVIEW_WINDOW) -> Workflow:
    """The workflow, with the reviewer's window as the port's timeout."""
    approval = RequestPort(
        "HumanApproval", request_type=Article, response_type=HumanApproval, timeout=review_window
    )
    return (
        WorkflowBuilder(brief, name="ContentApproval")
        .add_chain([brief, writer, prepare_review, approval, review])
        .add_edge(review, publish)
        .add_edge(review, writer)
        .add_timeout_edge(approval, escalate)
        .build()
    )


workflow = build_workflow()

TOPICS = [ContentRequest(topic="tidal energy"), ContentRequest(topic="unattended topic")]
"""The demo's runs: the first is reviewed twice, the second by nobody."""


def reviewer(request: WaitingForInputEvent) -> Any:
    """The demo's reviewer, as a plain-JSON answer: rejects a first draft, approves a rewrite,
    and never looks at the unattended topic."""
    article: Article = request.request
    if "unattended" in article.title.lower():
        return NO_RESPONSE
    if "Revised" not in article.content:
        return {"approved": False, "feedback": "Mention the costs."}
    return {"approved": True, "feedback": "Looks good."}


async def run_topic(host: DurableWorkflowHost, wf: Workflow, topic: ContentRequest) -> str:
    run = await host.client.stream(wf, topic)
    async for event in run.watch_stream():
        if isinstance(event, WaitingForInputEvent):
            answer = reviewer(event)
            print(f"  review requested for {event.request.title!r}: {answer}")
            if answer is not NO_RESPONSE:
                await run.raise_event("HumanApproval", answer)
    return str(await run.wait_for_completion())


async def demo(review_window: timedelta) -> list[str]:
    wf = build_workflow(review_window)
    async with DurableWorkflowHost(workflows=[wf]) as host:
        return list(await asyncio.gather(*(run_topic(host, wf, t) for t in TOPICS)))


def main() -> None:
    parser = argparse.ArgumentParser(description="The content-approval sample.")
    parser.add_argument("--window", type=float, default=3.0, help="review window in seconds")
    args = parser.parse_args()
    if MODEL is None:
        print(f"Using a deterministic stand-in writer. {NO_MODEL_CONFIGURED}\n")
    for result in asyncio.run(demo(timedelta(seconds=args.window))):
        print(f"Result: {result}")


if __name__ == "__main__":
    main()
