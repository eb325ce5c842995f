"""Fixtures for the agents tests: a local OpenAI-compatible server and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from durable_workflows.testing.openai_server import LocalOpenAIServer

MODEL_ENV_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "OPENAI_CHAT_MODEL_ID",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_DEPLOYMENT_NAME",
    "AZURE_OPENAI_DEPLOYMENT",
    "AZURE_OPENAI_CHAT_DEPLOYMENT_NAME",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_API_VERSION",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's model configuration."""
    for name in MODEL_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[LocalOpenAIServer]:
    """A started local server, stopped after the test."""
    with LocalOpenAIServer() as running:
        yield running
