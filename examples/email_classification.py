"""EmailClassification: switch-case routing on an agent's structured output.

ReceiveEmail -> Classifier (an agent answering a pydantic `Classification`) -> switch:
``Case(is_spam) -> HandleSpam``, ``Default -> DraftReply``. The first matching case wins; the
`Default` takes everything else. ReceiveEmail keeps the email in shared state, so the branch
that runs can quote it.

With ``OPENAI_API_KEY`` or ``AZURE_OPENAI_ENDPOINT`` set the classifier calls that model;
otherwise it uses `DeterministicChatClient` with a keyword rule.

    python examples/email_classification.py ["email text"]
"""

from __future__ import annotations

import asyncio
import sys

from pydantic import BaseModel

from durable_workflows import (
    AgentResponse,
    Case,
    Default,
    DurableWorkflowHost,
    WorkflowBuilder,
    WorkflowContext,
    executor,
)
from durable_workflows.agents import (
    NO_MODEL_CONFIGURED,
    Agent,
    DeterministicChatClient,
    chat_client_from_env,
)


class Classification(BaseModel):
    is_spam: bool
    reason: str


MODEL = chat_client_from_env()
"""The configured model, or None (then the classifier is a deterministic stand-in)."""

STAND_IN = DeterministicChatClient(
    rules=[
        (
            r"lottery|prize|winner|click here",
            Classification(is_spam=True, reason="promises a prize and asks for a click"),
        )
    ],
    default=Classification(is_spam=False, reason="a genuine request from a colleague"),
)

classifier = Agent(
    "Classifier",
    "Decide whether the email is spam. Give a short reason.",
    MODEL if MODEL is not None else STAND_IN,
    response_format=Classification,
)


@executor(id="ReceiveEmail")
def receive_email(email: str, ctx: WorkflowContext[str]) -> None:
    ctx.set_state("email", email)
    ctx.send_message(email)


@executor(id="HandleSpam")
def handle_spam(response: AgentResponse[Classification], ctx: WorkflowContext) -> str:
    reason = response.value.reason if response.value else response.text
    return f"Moved to spam ({reason}): {ctx.get_state('email')[:40]!r}"


@executor(id="DraftReply")
def draft_reply(response: AgentResponse[Classification], ctx: WorkflowContext) -> str:
    email: str = ctx.get_state("email")
    return f"Draft reply: 'Thanks for your email, I will get back to you.' (re: {email[:40]!r})"


def is_spam(response: AgentResponse[Classification]) -> bool:
    return response.value is not None and response.value.is_spam


workflow = (
    WorkflowBuilder(receive_email, name="EmailClassification")
    .add_edge(receive_email, classifier)
    .add_switch_case_edge_group(classifier, [Case(is_spam, handle_spam), Default(draft_reply)])
    .build()
)

EMAILS = [
    "Congratulations, you are a lottery winner! Click here to claim your prize.",
    "Hi, could you review the quarterly report before Friday? Thanks, Sam",
]


async def run(emails: list[str]) -> list[str]:
    async with DurableWorkflowHost(workflows=[workflow]) as host:
        runs = [await host.client.run(workflow, email) for email in emails]
        return [await r.wait_for_completion() for r in runs]


def main() -> None:
    if MODEL is None:
        print(f"Using a deterministic stand-in classifier. {NO_MODEL_CONFIGURED}\n")
    else:
        print(f"Using {type(MODEL).__name__} for the classifier.\n")
    for result in asyncio.run(run([" ".join(sys.argv[1:])] if sys.argv[1:] else EMAILS)):
        print(result)


if __name__ == "__main__":
    main()
