"""DraftReview: an executor asks a person from inside its handler (the Agent Framework's Python
form of human input: `ctx.request_info(...)` and a `@response_handler`).

Writer -> ReviewGateway. The gateway asks for feedback on each draft with
``await ctx.request_info(draft, response_type=Feedback)``; the answer comes back to its
``@response_handler``, which approves the draft (the workflow's result) or sends it back to the
Writer with the comment. The request is an ordinary request of the run: it streams the same
`WaitingForInputEvent`, is listed by `pending_requests()`, and is answered with
`send_response` (or a named event called ``ReviewGateway``).

    python examples/draft_review.py
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from durable_workflows import (
    DurableWorkflowHost,
    Executor,
    WaitingForInputEvent,
    WorkflowBuilder,
    WorkflowContext,
    handler,
    response_handler,
)


class Draft(BaseModel):
    topic: str
    text: str
    version: int = 1


class Revision(BaseModel):
    draft: Draft
    comment: str


class Feedback(BaseModel):
    approved: bool
    comment: str = ""


class Writer(Executor):
    @handler
    def first(self, topic: str) -> Draft:
        return Draft(topic=topic, text=f"Some words about {topic}.")

    @handler
    def revise(self, revision: Revision) -> Draft:
        draft = revision.draft
        text = f"{draft.text} ({revision.comment.rstrip('.')}: done.)"
        return Draft(topic=draft.topic, text=text, version=draft.version + 1)


class ReviewGateway(Executor):
    @handler
    async def on_draft(self, draft: Draft, ctx: WorkflowContext) -> None:
        await ctx.request_info(draft, response_type=Feedback)

    @response_handler
    async def on_feedback(
        self, draft: Draft, feedback: Feedback, ctx: WorkflowContext[Revision, str]
    ) -> None:
        if feedback.approved:
            ctx.yield_output(f"Approved v{draft.version} of '{draft.topic}': {draft.text}")
        else:
            ctx.send_message(Revision(draft=draft, comment=feedback.comment))


writer, gateway = Writer("Writer"), ReviewGateway("ReviewGateway")
workflow = (
    WorkflowBuilder(writer, name="DraftReview")
    .add_edge(writer, gateway)
    .add_edge(gateway, writer)
    .build()
)

TOPIC = "lighthouses"


def reviewer(request: WaitingForInputEvent) -> Feedback:
    """The demo's reviewer: wants a source in the first version, approves the second."""
    draft: Draft = request.request
    if draft.version == 1:
        return Feedback(approved=False, comment="Cite a source.")
    return Feedback(approved=True)


async def review(topic: str) -> str:
    async with DurableWorkflowHost(workflows=[workflow]) as host:
        run = await host.client.stream(workflow, topic)
        async for event in run.watch_stream():
            if isinstance(event, WaitingForInputEvent):
                feedback = reviewer(event)
                print(f"  {event.port_id} asks about v{event.request.version}: {feedback}")
                await run.send_response(event, feedback)
        return str(await run.wait_for_completion())


def main() -> None:
    print(f"Result: {asyncio.run(review(TOPIC))}")


if __name__ == "__main__":
    main()
