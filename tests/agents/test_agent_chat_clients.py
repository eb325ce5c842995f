"""OpenAI and Azure OpenAI clients, with the real `openai` SDK against the local server."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from pydantic import BaseModel

from durable_workflows.agents import (
    NO_MODEL_CONFIGURED,
    AzureOpenAIChatClient,
    ChatClientConfigurationError,
    ChatClientError,
    ChatMessage,
    OpenAIChatClient,
    chat_client_from_env,
)
from durable_workflows.errors import DurableWorkflowsError
from durable_workflows.testing.openai_server import LocalOpenAIServer, ServerReply

HELLO = [ChatMessage(role="user", content="hello there")]


class Verdict(BaseModel):
    is_spam: bool
    reason: str


def openai_client(server: LocalOpenAIServer, **kwargs: Any) -> OpenAIChatClient:
    return OpenAIChatClient("test-model", api_key="sk-test", base_url=server.base_url, **kwargs)


def test_text_completion_reports_text_and_usage(server: LocalOpenAIServer) -> None:
    completion = openai_client(server).complete(HELLO, response_format=None)

    assert completion.text == "echo: hello there"
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (2, 3)
    assert completion.usage.total_tokens == 5
    assert completion.finish_reason == "stop"
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "test-model"
    assert request.headers["authorization"] == "Bearer sk-test"


def test_structured_output_sends_a_strict_json_schema(server: LocalOpenAIServer) -> None:
    completion = openai_client(server).complete(HELLO, response_format=Verdict)

    assert Verdict.model_validate_json(completion.text) == Verdict(is_spam=False, reason="example")
    response_format = server.requests[0].body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Verdict"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["is_spam", "reason"]


def test_rate_limit_is_retried_then_succeeds(server: LocalOpenAIServer) -> None:
    server.fail_next(2, status=429)

    completion = openai_client(server, max_retries=2).complete(HELLO, response_format=None)

    assert completion.text == "echo: hello there"
    assert len(server.requests) == 3


def test_repeated_server_errors_give_a_clear_error(server: LocalOpenAIServer) -> None:
    server.fail_next(5, status=500)

    with pytest.raises(ChatClientError) as caught:
        openai_client(server, max_retries=2).complete(HELLO, response_format=None)

    assert caught.value.status_code == 500
    assert caught.value.retryable
    assert isinstance(caught.value, DurableWorkflowsError)
    message = str(caught.value)
    assert "HTTP 500 (after 2 retries)" in message
    assert "'test-model'" in message and server.base_url in message
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(server: LocalOpenAIServer) -> None:
    server.enqueue(ServerReply(status=400, error="bad request"))

    with pytest.raises(ChatClientError) as caught:
        openai_client(server, max_retries=3).complete(HELLO, response_format=None)

    assert (caught.value.status_code, caught.value.retryable) == (400, False)
    assert len(server.requests) == 1


def test_unreachable_server_is_a_retryable_error() -> None:
    with LocalOpenAIServer() as stopped:
        base_url = stopped.base_url
    client = OpenAIChatClient("m", api_key="k", base_url=base_url, max_retries=0)

    with pytest.raises(ChatClientError, match="Could not reach") as caught:
        client.complete(HELLO, response_format=None)

    assert caught.value.retryable and caught.value.status_code is None


def test_retry_waits_follow_retry_after(server: LocalOpenAIServer) -> None:
    server.fail_next(1, status=429, retry_after=0.3)
    started = time.monotonic()

    openai_client(server, max_retries=1).complete(HELLO, response_format=None)

    assert time.monotonic() - started >= 0.3


def test_settings_come_from_the_environment(
    server: LocalOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_CHAT_MODEL_ID", "env-model")

    OpenAIChatClient().complete(HELLO, response_format=None)

    assert server.requests[0].body["model"] == "env-model"
    assert server.requests[0].headers["authorization"] == "Bearer sk-env"


def test_openai_client_without_key_names_the_env_var() -> None:
    client = OpenAIChatClient()  # constructing needs no configuration

    with pytest.raises(ChatClientConfigurationError, match="OPENAI_API_KEY"):
        client.complete(HELLO, response_format=None)


def test_azure_client_uses_the_deployment_route_and_api_key(server: LocalOpenAIServer) -> None:
    server.api_key = "azure-key"
    client = AzureOpenAIChatClient(server.url, "gpt-4o-deploy", api_key="azure-key")

    completion = client.complete(HELLO, response_format=Verdict)

    assert Verdict.model_validate_json(completion.text).reason == "example"
    [request] = server.requests
    assert request.path == "/openai/deployments/gpt-4o-deploy/chat/completions"
    assert request.query == "api-version=2024-10-21"
    assert request.headers["api-key"] == "azure-key"


def test_azure_client_reads_the_environment(
    server: LocalOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT_NAME", "env-deploy")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "env-key")
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2025-01-01-preview")

    AzureOpenAIChatClient().complete(HELLO, response_format=None)

    [request] = server.requests
    assert request.path == "/openai/deployments/env-deploy/chat/completions"
    assert request.query == "api-version=2025-01-01-preview"
    assert request.headers["api-key"] == "env-key"


class StaticCredential:
    """A TokenCredential that hands out a fixed token (no Azure sign-in)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        assert scopes == ("https://cognitiveservices.azure.com/.default",)
        return AccessToken("entra-token", int(time.time()) + 3600)


def test_azure_client_without_key_uses_a_token_credential(server: LocalOpenAIServer) -> None:
    client = AzureOpenAIChatClient(server.url, "dep", credential=StaticCredential())

    client.complete(HELLO, response_format=None)

    assert server.requests[0].headers["authorization"] == "Bearer entra-token"


class FailingCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise RuntimeError("no sign-in available")


def test_azure_sign_in_failure_is_a_configuration_error(server: LocalOpenAIServer) -> None:
    client = AzureOpenAIChatClient(server.url, "dep", credential=FailingCredential())

    with pytest.raises(ChatClientConfigurationError, match=r"AZURE_OPENAI_API_KEY.*az login"):
        client.complete(HELLO, response_format=None)
    assert server.requests == []


def test_azure_client_missing_endpoint_names_the_env_var() -> None:
    client = AzureOpenAIChatClient(deployment="dep", api_key="k")

    with pytest.raises(ChatClientConfigurationError, match="AZURE_OPENAI_ENDPOINT"):
        client.complete(HELLO, response_format=None)


@pytest.mark.parametrize(
    ("env", "deployment"),
    [
        ({}, "gpt-4o-mini"),
        ({"AZURE_OPENAI_DEPLOYMENT": "dotnet-name"}, "dotnet-name"),
        ({"AZURE_OPENAI_CHAT_DEPLOYMENT_NAME": "chat-name"}, "chat-name"),
        (
            {"AZURE_OPENAI_DEPLOYMENT_NAME": "python-name", "AZURE_OPENAI_DEPLOYMENT": "dotnet"},
            "python-name",
        ),
    ],
)
def test_azure_deployment_env_names_and_default(
    server: LocalOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    deployment: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    AzureOpenAIChatClient(server.url, api_key="k").complete(HELLO, response_format=None)

    assert server.requests[0].path == f"/openai/deployments/{deployment}/chat/completions"


def test_negative_max_retries_is_refused() -> None:
    with pytest.raises(ChatClientConfigurationError, match="max_retries"):
        OpenAIChatClient(max_retries=-1)


def test_timeout_is_passed_to_the_sdk(server: LocalOpenAIServer) -> None:
    client = openai_client(server, timeout=timedelta(seconds=7), max_retries=4)

    assert client.sdk_client.timeout == 7.0
    assert client.sdk_client.max_retries == 4


def test_chat_client_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert chat_client_from_env() is None
    assert "OPENAI_API_KEY" in NO_MODEL_CONFIGURED
    assert "AZURE_OPENAI_ENDPOINT" in NO_MODEL_CONFIGURED

    monkeypatch.setenv("OPENAI_API_KEY", "sk")
    assert isinstance(chat_client_from_env(), OpenAIChatClient)

    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example.openai.azure.com")
    assert isinstance(chat_client_from_env(), AzureOpenAIChatClient)


def test_importing_agents_does_not_import_the_model_sdks() -> None:
    code = (
        "import sys, durable_workflows\n"
        "before = set(sys.modules)\n"
        "import durable_workflows.agents as a\n"
        "a.Agent('Joker', 'be funny', a.OpenAIChatClient())\n"
        "a.Agent('Azure', 'be formal', a.AzureOpenAIChatClient())\n"
        "sdks = ('openai', 'azure.identity')\n"
        "print(sorted(m for m in sys.modules if m.startswith(sdks)))\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith('azure')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["[]", "[]"]
