"""Spam detection: route on an agent's structured verdict in a hand-written orchestration.

The SpamDetectionAgent classifies the email (per-call structured output). Spam goes to the
``handle_spam_email`` activity; anything else goes to the EmailAssistantAgent, whose drafted
reply is sent by the ``send_email`` activity. (A port of the Agent Framework's durable
conditional-orchestration sample.)

With ``OPENAI_API_KEY`` or ``AZURE_OPENAI_ENDPOINT`` set the agents call that model; otherwise
they use deterministic stand-ins.

    python examples/spam_detection.py ["email text"]
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Generator
from typing import Any

from pydantic import BaseModel

from durable_workflows import DurableWorkflowHost
from durable_workflows.agents import (
    NO_MODEL_CONFIGURED,
    Agent,
    ChatClient,
    DeterministicChatClient,
    chat_client_from_env,
    get_agent,
)

SPAM_DETECTOR = "You are a spam detection assistant that identifies spam emails."
EMAIL_ASSISTANT = "You are an email assistant that drafts professional replies to emails."


class SpamDetectionResult(BaseModel):
    is_spam: bool
    reason: str


class EmailResponse(BaseModel):
    response: str


class EmailPayload(BaseModel):
    email_id: str
    email_content: str


def agents(client: ChatClient | None = None) -> list[Agent]:
    """The spam detector and the email assistant, on `client` (default: the configured model,
    or stand-ins)."""
    model = client or chat_client_from_env()
    detector = model or DeterministicChatClient(
        rules=[(r"winner|prize|click", SpamDetectionResult(is_spam=True, reason="prize bait"))],
        default=SpamDetectionResult(is_spam=False, reason="a genuine request"),
    )
    assistant = model or DeterministicChatClient(
        default=EmailResponse(response="Thank you for your email; I will reply by Friday.")
    )
    return [
        Agent("SpamDetectionAgent", SPAM_DETECTOR, detector),
        Agent("EmailAssistantAgent", EMAIL_ASSISTANT, assistant),
    ]


def handle_spam_email(ctx: Any, reason: str) -> str:
    """Activity: file the email as spam."""
    return f"Email marked as spam: {reason}"


def send_email(ctx: Any, message: str) -> str:
    """Activity: send the reply (here: describe it)."""
    return f"Email sent: {message}"


def spam_detection(ctx: Any, payload: dict[str, Any]) -> Generator[Any, Any, str]:
    """Classify the email, then handle spam or draft and send a reply."""
    email = EmailPayload.model_validate(payload)
    detector = get_agent(ctx, "SpamDetectionAgent")
    verdict = yield detector.run(
        f"Is this email spam?\nEmail ID: {email.email_id}\nContent: {email.email_content}",
        response_format=SpamDetectionResult,
    )
    if verdict.value.is_spam:
        filed: str = yield ctx.call_activity(handle_spam_email, input=verdict.value.reason)
        return filed
    assistant = get_agent(ctx, "EmailAssistantAgent")
    reply = yield assistant.run(
        f"Draft a reply to this email:\n{email.email_content}", response_format=EmailResponse
    )
    sent: str = yield ctx.call_activity(send_email, input=reply.value.response)
    return sent


EMAILS = [
    EmailPayload(email_id="e1", email_content="You are a WINNER! Click here to claim a prize."),
    EmailPayload(email_id="e2", email_content="Could you review the quarterly report by Friday?"),
]


async def run(emails: list[EmailPayload], client: ChatClient | None = None) -> list[str]:
    async with DurableWorkflowHost(
        agents=agents(client),
        orchestrations=[spam_detection],
        activities=[handle_spam_email, send_email],
    ) as host:
        return [
            await host.client.run_orchestration(spam_detection, email, timeout=120)
            for email in emails
        ]


def main() -> None:
    if chat_client_from_env() is None:
        print(f"Using deterministic stand-in agents. {NO_MODEL_CONFIGURED}\n")
    text = " ".join(sys.argv[1:])
    emails = [EmailPayload(email_id="cli", email_content=text)] if text else EMAILS
    for result in asyncio.run(run(emails)):
        print(result)


if __name__ == "__main__":
    main()
