"""`OpenAIChatClient` and `AzureOpenAIChatClient`: `ChatClient`s over the `openai` SDK.

The SDK (and azure-identity) are imported on first use, and configuration is read then too, so
agents can be defined at import time without keys, network or the `agents` extra installed.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..model.agent_protocol import ChatMessage, ToolCall, Usage
from ._chat_client import ChatClient, ChatCompletion, DeltaCallback
from ._errors import ChatClientConfigurationError, ChatClientError
from ._openai_stream import completion_from_chunks
from ._schema import schema_name, strict_json_schema

if TYPE_CHECKING:
    import openai
    from azure.core.credentials import TokenCredential
    from openai.types.chat import (
        ChatCompletionMessageParam,
        ChatCompletionMessageToolCallParam,
    )

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
"""The model `OpenAIChatClient` uses when neither `model` nor `OPENAI_MODEL` is given."""
DEFAULT_AZURE_DEPLOYMENT = "gpt-4o-mini"
"""The deployment `AzureOpenAIChatClient` uses when neither `deployment` nor an env var is set."""
AZURE_DEPLOYMENT_ENV_VARS = (
    "AZURE_OPENAI_DEPLOYMENT_NAME",
    "AZURE_OPENAI_DEPLOYMENT",
    "AZURE_OPENAI_CHAT_DEPLOYMENT_NAME",
)
"""Read in this order: the Agent Framework's Python name, its .NET name, the older chat name."""
DEFAULT_AZURE_API_VERSION = "2024-10-21"
"""The Azure OpenAI API version used unless `api_version` or `AZURE_OPENAI_API_VERSION` is set."""
AZURE_COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"

NO_MODEL_CONFIGURED = (
    "No chat model is configured. For OpenAI set OPENAI_API_KEY (optionally OPENAI_MODEL and "
    "OPENAI_BASE_URL); for Azure OpenAI set AZURE_OPENAI_ENDPOINT (optionally "
    "AZURE_OPENAI_DEPLOYMENT_NAME, default gpt-4o-mini), plus AZURE_OPENAI_API_KEY or an Azure "
    "sign-in (`az login`)."
)
"""What `chat_client_from_env()` needs; examples print it when they fall back to a stand-in."""

_INSTALL_HINT = "install the agents extra: pip install -e '.[agents]' in a clone of durable_workflows"


def chat_client_from_env() -> ChatClient | None:
    """An Azure OpenAI client if ``AZURE_OPENAI_ENDPOINT`` is set, else an OpenAI client if
    ``OPENAI_API_KEY`` is set, else ``None`` (see `NO_MODEL_CONFIGURED`)."""
    if os.environ.get("AZURE_OPENAI_ENDPOINT"):
        return AzureOpenAIChatClient()
    if os.environ.get("OPENAI_API_KEY"):
        return OpenAIChatClient()
    return None


def _setting(value: str | None, *env_names: str) -> str | None:
    if value:
        return value
    return next((os.environ[n] for n in env_names if os.environ.get(n)), None)


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = f"The `openai` package is missing: {_INSTALL_HINT}"
        raise ChatClientConfigurationError(msg) from exc
    return openai


def _message_param(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "user":
        return {"role": "user", "content": message.content}
    if message.role == "tool":
        return {
            "role": "tool",
            "content": message.content,
            "tool_call_id": message.tool_call_id or "",
        }
    if not message.tool_calls:
        return {"role": "assistant", "content": message.content}
    calls: list[ChatCompletionMessageToolCallParam] = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in message.tool_calls
    ]
    return {"role": "assistant", "content": message.content or None, "tool_calls": calls}


def _retryable(status_code: int) -> bool:
    """Whether the SDK retries this HTTP status (so trying again later may succeed)."""
    return status_code in (408, 409, 429) or status_code >= 500


class _OpenAICompatibleClient(ABC):
    """The shared part: lazy SDK client, request building and error mapping."""

    def __init__(
        self,
        *,
        max_retries: int,
        timeout: timedelta,
        completion_options: Mapping[str, Any] | None,
    ) -> None:
        if max_retries < 0:
            msg = f"max_retries must be 0 or more, got {max_retries}"
            raise ChatClientConfigurationError(msg)
        self.max_retries = max_retries
        self.timeout = timeout
        self.completion_options = dict(completion_options or {})
        self._sdk_client: openai.OpenAI | None = None
        self._lock = threading.Lock()

    @property
    def sdk_client(self) -> openai.OpenAI:
        """The underlying `openai` client, created (and configuration read) on first use."""
        with self._lock:
            if self._sdk_client is None:
                self._sdk_client = self._create_sdk_client()
            return self._sdk_client

    @property
    @abstractmethod
    def model(self) -> str:
        """The model (OpenAI) or deployment (Azure) name sent with each request."""

    @abstractmethod
    def _create_sdk_client(self) -> openai.OpenAI:
        """Read the configuration and build the SDK client; raise a clear error if incomplete."""

    @abstractmethod
    def _describe(self) -> str:
        """Which model at which address, for error messages."""

    def complete(
        self,
        messages: list[ChatMessage],
        *,
        response_format: type[BaseModel] | None,
        tools: Sequence[dict[str, Any]] | None = None,
        on_delta: DeltaCallback | None = None,
    ) -> ChatCompletion:
        """Call the chat completions API (with JSON-schema structured output if requested,
        and the `tools` the model may call). With `on_delta` the reply is streamed
        (``stream=True``) and each piece of text is passed to it as it arrives."""
        sdk = _import_openai()
        client = self.sdk_client
        options = dict(self.completion_options)
        if tools:
            options["tools"] = list(tools)
        if response_format is not None:
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema_name(response_format),
                    "schema": strict_json_schema(response_format),
                    "strict": True,
                },
            }
        params = [_message_param(m) for m in messages]
        try:
            if on_delta is not None:
                chunks = client.chat.completions.create(
                    model=self.model,
                    messages=params,
                    stream=True,
                    stream_options={"include_usage": True},
                    **options,
                )
                return completion_from_chunks(chunks, on_delta)
            reply = client.chat.completions.create(model=self.model, messages=params, **options)
        except sdk.APIStatusError as exc:
            retryable = _retryable(exc.status_code)
            retries = f" (after {client.max_retries} retries)" if retryable else ""
            body = exc.body if isinstance(exc.body, dict) else {}
            detail = body.get("message") or exc.message
            msg = f"{self._describe()} answered HTTP {exc.status_code}{retries}: {detail}"
            raise ChatClientError(msg, status_code=exc.status_code, retryable=retryable) from exc
        except sdk.APIConnectionError as exc:
            msg = f"Could not reach {self._describe()} (after {client.max_retries} retries): {exc}"
            raise ChatClientError(msg, retryable=True) from exc
        except sdk.APIError as exc:  # e.g. an error event in the middle of a stream
            msg = f"{self._describe()} failed: {exc}"
            raise ChatClientError(msg, retryable=True) from exc
        return self._completion(reply)

    def _completion(self, reply: Any) -> ChatCompletion:
        if not reply.choices:
            msg = f"{self._describe()} returned no choices"
            raise ChatClientError(msg, retryable=True)
        choice = reply.choices[0]
        usage = Usage()
        if reply.usage is not None:
            usage = Usage(
                input_tokens=reply.usage.prompt_tokens,
                output_tokens=reply.usage.completion_tokens,
                total_tokens=reply.usage.total_tokens,
            )
        calls = tuple(
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
            for c in choice.message.tool_calls or ()
            if c.type == "function"
        )
        return ChatCompletion(
            text=choice.message.content or "",
            usage=usage,
            finish_reason=choice.finish_reason,
            refusal=choice.message.refusal,
            tool_calls=calls,
        )


class OpenAIChatClient(_OpenAICompatibleClient):
    """A chat model behind the OpenAI API (or any OpenAI-compatible server via `base_url`).

    Settings come from the arguments, else from ``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` and
    ``OPENAI_MODEL`` / ``OPENAI_CHAT_MODEL_ID`` (model default: `DEFAULT_OPENAI_MODEL`), read
    on first use. The SDK retries 408/409/429/5xx and connection errors `max_retries` times with
    backoff (honouring ``Retry-After``). `completion_options` (e.g. ``{"temperature": 0}``) are
    passed to every request.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int = 3,
        timeout: timedelta = timedelta(seconds=60),
        completion_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            max_retries=max_retries, timeout=timeout, completion_options=completion_options
        )
        self._model = model
        self._api_key = api_key
        self._base_url = base_url

    @property
    def model(self) -> str:
        return _setting(self._model, "OPENAI_MODEL", "OPENAI_CHAT_MODEL_ID") or DEFAULT_OPENAI_MODEL

    def _create_sdk_client(self) -> openai.OpenAI:
        api_key = _setting(self._api_key, "OPENAI_API_KEY")
        if api_key is None:
            msg = (
                "OpenAIChatClient has no API key: pass api_key= or set OPENAI_API_KEY "
                "(and optionally OPENAI_MODEL, OPENAI_BASE_URL)"
            )
            raise ChatClientConfigurationError(msg)
        client: openai.OpenAI = _import_openai().OpenAI(
            api_key=api_key,
            base_url=_setting(self._base_url, "OPENAI_BASE_URL"),
            max_retries=self.max_retries,
            timeout=self.timeout.total_seconds(),
        )
        return client

    def _describe(self) -> str:
        where = _setting(self._base_url, "OPENAI_BASE_URL") or "api.openai.com"
        return f"OpenAI model {self.model!r} at {where}"

    def __repr__(self) -> str:
        return f"OpenAIChatClient(model={self.model!r})"


class AzureOpenAIChatClient(_OpenAICompatibleClient):
    """A deployment on Azure OpenAI.

    Settings come from the arguments, else ``AZURE_OPENAI_ENDPOINT``,
    ``AZURE_OPENAI_DEPLOYMENT_NAME`` (or ``AZURE_OPENAI_DEPLOYMENT``, then
    ``AZURE_OPENAI_CHAT_DEPLOYMENT_NAME``; default `DEFAULT_AZURE_DEPLOYMENT`),
    ``AZURE_OPENAI_API_KEY`` and ``AZURE_OPENAI_API_VERSION``, read on first use. Without an
    API key it authenticates with `credential`, else azure-identity's `DefaultAzureCredential`
    (which covers `az login`, managed identity and environment credentials).
    """

    def __init__(
        self,
        endpoint: str | None = None,
        deployment: str | None = None,
        *,
        api_key: str | None = None,
        credential: TokenCredential | None = None,
        api_version: str | None = None,
        max_retries: int = 3,
        timeout: timedelta = timedelta(seconds=60),
        completion_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            max_retries=max_retries, timeout=timeout, completion_options=completion_options
        )
        self._endpoint = endpoint
        self._deployment = deployment
        self._api_key = api_key
        self._credential = credential
        self._api_version = api_version

    @property
    def model(self) -> str:
        return _setting(self._deployment, *AZURE_DEPLOYMENT_ENV_VARS) or DEFAULT_AZURE_DEPLOYMENT

    def _endpoint_or_raise(self) -> str:
        endpoint = _setting(self._endpoint, "AZURE_OPENAI_ENDPOINT")
        if endpoint is None:
            msg = (
                "AzureOpenAIChatClient has no endpoint: pass endpoint= or set "
                "AZURE_OPENAI_ENDPOINT (e.g. https://<resource>.openai.azure.com)"
            )
            raise ChatClientConfigurationError(msg)
        return endpoint

    def _create_sdk_client(self) -> openai.OpenAI:
        endpoint, deployment = self._endpoint_or_raise(), self.model
        api_key = _setting(self._api_key, "AZURE_OPENAI_API_KEY")
        token_provider = None if api_key else self._token_provider()
        client: openai.OpenAI = _import_openai().AzureOpenAI(
            azure_endpoint=endpoint,
            azure_deployment=deployment,
            api_version=_setting(self._api_version, "AZURE_OPENAI_API_VERSION")
            or DEFAULT_AZURE_API_VERSION,
            api_key=api_key,
            azure_ad_token_provider=token_provider,
            max_retries=self.max_retries,
            timeout=self.timeout.total_seconds(),
        )
        return client

    def _token_provider(self) -> Callable[[], str]:
        try:
            from azure.identity import DefaultAzureCredential, get_bearer_token_provider
        except ImportError as exc:  # pragma: no cover - depends on the environment
            msg = f"Set AZURE_OPENAI_API_KEY, or {_INSTALL_HINT} to sign in with azure-identity"
            raise ChatClientConfigurationError(msg) from exc
        provider = get_bearer_token_provider(
            self._credential or DefaultAzureCredential(), AZURE_COGNITIVE_SERVICES_SCOPE
        )

        def token() -> str:
            try:
                return provider()
            except Exception as exc:
                msg = (
                    f"Azure sign-in for {self._describe()} failed: set AZURE_OPENAI_API_KEY, "
                    f"run `az login`, or pass credential=. ({type(exc).__name__}: {exc})"
                )
                raise ChatClientConfigurationError(msg) from exc

        return token

    def _describe(self) -> str:
        endpoint = _setting(self._endpoint, "AZURE_OPENAI_ENDPOINT")
        return f"Azure OpenAI deployment {self.model!r} at {endpoint}"

    def __repr__(self) -> str:
        return f"AzureOpenAIChatClient(deployment={self._deployment!r})"
