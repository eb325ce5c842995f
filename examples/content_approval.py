"""Content approval: a writer agent drafts, a human approves, and silence escalates.

The WriterAgent drafts an article (structured output). The orchestration notifies a reviewer
(activity), then waits for the ``HumanApproval`` event, raced against a durable timer:

- approved: the content is published (activity);
- rejected: the writer rewrites it in the same session, using the feedback, and the review
  starts again (at most `max_review_attempts` times);
- no answer before the timeout: the review is escalated (activity) and the orchestration ends
  with status ``escalated``.

(A port of the Agent Framework's durable human-in-the-loop sample, with escalation on timeout.)

    python examples/content_approval.py ["topic"]
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Generator
from datetime import timedelta
from typing import Any

from durabletask.task import when_any
from pydantic import BaseModel

from durable_workflows import DurableWorkflowHost, WorkflowClient
from durable_workflows.agents import (
    NO_MODEL_CONFIGURED,
    Agent,
    ChatClient,
    DeterministicChatClient,
    chat_client_from_env,
    get_agent,
)

WRITER = "You are a professional content writer. Write short articles (under 300 words)."
APPROVAL_EVENT = "HumanApproval"


class ContentRequest(BaseModel):
    topic: str
    max_review_attempts: int = 3
    approval_timeout_seconds: float = 300


class GeneratedContent(BaseModel):
    title: str
    content: str


class HumanApproval(BaseModel):
    approved: bool
    feedback: str = ""


def agents(client: ChatClient | None = None) -> list[Agent]:
    """The WriterAgent on `client` (default: the configured model, or a stand-in)."""
    model = client or chat_client_from_env()
    stand_in = DeterministicChatClient(
        rules=[(r"feedback", GeneratedContent(title="Revised", content="Shorter and clearer."))],
        default=GeneratedContent(title="First draft", content="Durable agents survive crashes."),
    )
    return [Agent("WriterAgent", WRITER, model or stand_in)]


def notify_reviewer(ctx: Any, content: dict[str, Any]) -> str:
    """Activity: ask a human to review (here: print the request)."""
    print(f"Please review: {GeneratedContent.model_validate(content).title}", flush=True)
    return "notified"


def publish_content(ctx: Any, content: dict[str, Any]) -> str:
    """Activity: publish approved content."""
    return f"Published '{GeneratedContent.model_validate(content).title}'"


def escalate_review(ctx: Any, content: dict[str, Any]) -> str:
    """Activity: nobody answered in time; hand the review to an editor."""
    return f"Escalated '{GeneratedContent.model_validate(content).title}' to the editor"


def content_approval(ctx: Any, payload: dict[str, Any]) -> Generator[Any, Any, dict[str, str]]:
    """Draft, then review until approved, rejected too often, or escalated on timeout."""
    request = ContentRequest.model_validate(payload)
    writer = get_agent(ctx, "WriterAgent")
    session = writer.new_session()
    draft = yield writer.run(
        f"Write a short article about {request.topic}.",
        session=session,
        response_format=GeneratedContent,
    )
    content: GeneratedContent = draft.value
    for attempt in range(1, request.max_review_attempts + 1):
        ctx.set_custom_status({"state": "awaiting_approval", "attempt": attempt})
        yield ctx.call_activity(notify_reviewer, input=content.model_dump())
        approval = ctx.wait_for_external_event(APPROVAL_EVENT)
        deadline = ctx.current_utc_datetime + timedelta(seconds=request.approval_timeout_seconds)
        winner = yield when_any([approval, ctx.create_timer(deadline)])
        if winner is not approval:
            ctx.set_custom_status({"state": "escalated", "attempt": attempt})
            note: str = yield ctx.call_activity(escalate_review, input=content.model_dump())
            return {"status": "escalated", "detail": note}
        decision = HumanApproval.model_validate(approval.get_result())
        if decision.approved:
            ctx.set_custom_status({"state": "published", "attempt": attempt})
            done: str = yield ctx.call_activity(publish_content, input=content.model_dump())
            return {"status": "published", "detail": done}
        rewrite = yield writer.run(
            f"A reviewer rejected the article. Rewrite it using this feedback: {decision.feedback}",
            session=session,
            response_format=GeneratedContent,
        )
        content = rewrite.value
    ctx.set_custom_status({"state": "rejected"})
    return {
        "status": "rejected",
        "detail": f"not approved after {request.max_review_attempts} reviews",
    }


async def wait_for_review(client: WorkflowClient, instance_id: str, attempt: int) -> None:
    """Wait until the orchestration asks for review number `attempt`."""
    while True:
        status = await client.get_custom_status(instance_id)
        if status == {"state": "awaiting_approval", "attempt": attempt}:
            return
        await asyncio.sleep(0.05)


async def run(
    request: ContentRequest, decisions: list[HumanApproval], client: ChatClient | None = None
) -> dict[str, str]:
    """Run one approval, answering the reviews with `decisions` in order (then staying silent)."""
    async with DurableWorkflowHost(
        agents=agents(client),
        orchestrations=[content_approval],
        activities=[notify_reviewer, publish_content, escalate_review],
    ) as host:
        instance = await host.client.start_orchestration(content_approval, request)
        for attempt, decision in enumerate(decisions, start=1):
            await wait_for_review(host.client, instance, attempt)
            await host.client.raise_event(instance, APPROVAL_EVENT, decision)
        result: dict[str, str] = await host.client.wait_for_orchestration(instance, timeout=120)
        return result


def main() -> None:
    if chat_client_from_env() is None:
        print(f"Using a deterministic stand-in writer. {NO_MODEL_CONFIGURED}\n")
    topic = " ".join(sys.argv[1:]) or "durable agents"
    reviews = [
        HumanApproval(approved=False, feedback="make it shorter"),
        HumanApproval(approved=True),
    ]
    print(asyncio.run(run(ContentRequest(topic=topic), reviews)))
    silent = ContentRequest(topic=topic, approval_timeout_seconds=1)
    print(asyncio.run(run(silent, [])))


if __name__ == "__main__":
    main()
