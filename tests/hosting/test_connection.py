"""Connection strings: parsing, the environment variable, and credentials."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from durable_workflows.errors import DurableWorkflowsError
from durable_workflows.hosting.connection import (
    ENV_VAR,
    ConnectionSettings,
    ConnectionStringError,
    create_credential,
    parse_connection_string,
    resolve_connection,
)

GOOD = [
    (
        "Endpoint=http://localhost:8080;TaskHub=default;Authentication=None",
        ConnectionSettings(host_address="localhost:8080", taskhub="default"),
    ),
    (
        " endpoint = https://ns.westus2.durabletask.io/ ; TASKHUB=hub ;"
        " Authentication = managedidentity ; ClientID = 00000000-1111 ;",
        ConnectionSettings(
            host_address="ns.westus2.durabletask.io:443",
            secure=True,
            taskhub="hub",
            authentication="ManagedIdentity",
            client_id="00000000-1111",
        ),
    ),
    (
        "Endpoint=ns.durabletask.io;TaskHub=h;Authentication=DefaultAzure",
        ConnectionSettings(
            host_address="ns.durabletask.io:443",
            secure=True,
            taskhub="h",
            authentication="DefaultAzure",
        ),
    ),
    (
        "Endpoint=https://ns.durabletask.io:443;TaskHub=h;Authentication=AzureCli;TenantId=t",
        ConnectionSettings(
            host_address="ns.durabletask.io:443",
            secure=True,
            taskhub="h",
            authentication="AzureCli",
            tenant_id="t",
        ),
    ),
    (
        "Endpoint=https://x.durabletask.io;TaskHub=h;Authentication=WorkloadIdentity;"
        "ClientID=c;TenantId=t;ResourceId=https://durabletask.azure.us",
        ConnectionSettings(
            host_address="x.durabletask.io:443",
            secure=True,
            taskhub="h",
            authentication="WorkloadIdentity",
            client_id="c",
            tenant_id="t",
            resource_id="https://durabletask.azure.us",
        ),
    ),
    ("localhost:4001", ConnectionSettings(host_address="localhost:4001")),
    ("  10.0.0.5:50051  ", ConnectionSettings(host_address="10.0.0.5:50051")),
    ("grpc://sidecar:4001", ConnectionSettings(host_address="sidecar:4001")),
    ("grpcs://sidecar:443", ConnectionSettings(host_address="sidecar:443", secure=True)),
    ("http://sidecar:4001", ConnectionSettings(host_address="sidecar:4001")),
    ("[::1]:4001", ConnectionSettings(host_address="[::1]:4001")),
]


@pytest.mark.parametrize(("text", "expected"), GOOD)
def test_parses_good_strings(text: str, expected: ConnectionSettings) -> None:
    assert parse_connection_string(text) == expected


@pytest.mark.parametrize(("text", "expected"), GOOD)
def test_str_round_trips(text: str, expected: ConnectionSettings) -> None:
    assert parse_connection_string(str(expected)) == expected


BAD = [
    ("", "is empty"),
    ("   ", "is empty"),
    ("localhost", "'localhost' has no port"),
    ("grpc://sidecar", "has no port"),
    ("localhost:notaport", "invalid port"),
    ("https://ns.westus2.durabletask.io", "looks like a Durable Task Scheduler endpoint"),
    ("Endpoint=http://localhost:8080;TaskHub=default", "no Authentication="),
    ("Endpoint=http://localhost:8080;Authentication=None", "no TaskHub="),
    ("TaskHub=h;Authentication=None", "no Endpoint="),
    ("Endpoint=;TaskHub=h;Authentication=None", "no Endpoint="),
    ("Endpoint=http://l:1;TaskHub=h;Authentication=Magic", "Authentication=Magic is not supported"),
    (
        "Endpoint=http://l:1;TaskHub=h;Authentication=None;Taskhub=x",
        "TaskHub appears more than once",
    ),
    ("Endpoint=http://l:1;TaskHb=h;Authentication=None", "Unknown key 'TaskHb'"),
    (
        "Endpoint=http://l:1;oops;TaskHub=h;Authentication=None",
        "Part 2 of the connection string ('oops')",
    ),
    ("Endpoint=ftp://l:1;TaskHub=h;Authentication=None", "scheme 'ftp'"),
    ("Endpoint=http://l:1/api;TaskHub=h;Authentication=None", "no path"),
    ("Endpoint=http://l:99999;TaskHub=h;Authentication=None", "invalid port"),
    ("Endpoint=http://u:p@l:1;TaskHub=h;Authentication=None", "user name or password"),
    ("Endpoint=http://l:1;TaskHub=h;Authentication=None;ClientID=c", "ClientID is not used"),
    ("Endpoint=http://l:1;TaskHub=h;Authentication=Environment;TenantId=t", "TenantId is not used"),
]


@pytest.mark.parametrize(("text", "culprit"), BAD)
def test_bad_strings_name_the_culprit_and_show_an_example(text: str, culprit: str) -> None:
    with pytest.raises(ConnectionStringError) as caught:
        parse_connection_string(text)
    message = str(caught.value)
    assert culprit in message
    assert "Endpoint=http://localhost:8080;TaskHub=default;Authentication=None" in message
    assert isinstance(caught.value, DurableWorkflowsError)
    assert isinstance(caught.value, ValueError)


def test_unknown_keys_never_echo_their_values() -> None:
    text = "Endpoint=http://l:1;TaskHub=h;Authentication=None;AccountKey=c2VjcmV0LXZhbHVl=="
    with pytest.raises(ConnectionStringError, match="'AccountKey'") as caught:
        parse_connection_string(text)
    assert "c2VjcmV0" not in str(caught.value)


def test_password_in_endpoint_is_not_echoed() -> None:
    with pytest.raises(ConnectionStringError) as caught:
        parse_connection_string("Endpoint=http://u:hunter2@l:1;TaskHub=h;Authentication=None")
    assert "hunter2" not in str(caught.value)


def test_scheduler_and_sidecar_kinds() -> None:
    assert parse_connection_string(GOOD[0][0]).is_scheduler
    assert not parse_connection_string("localhost:4001").is_scheduler


class TestResolveConnection:
    def test_none_and_no_env_means_embedded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(ENV_VAR, raising=False)
        assert resolve_connection(None) is None
        assert resolve_connection("   ") is None

    def test_blank_env_means_embedded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_VAR, "  ")
        assert resolve_connection() is None

    def test_env_is_read(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_VAR, GOOD[0][0])
        assert resolve_connection() == GOOD[0][1]

    def test_explicit_wins_over_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_VAR, GOOD[0][0])
        assert resolve_connection("localhost:4001") == ConnectionSettings("localhost:4001")

    @pytest.mark.parametrize("name", ["TASKHUB", "TASKHUB_NAME"])
    def test_taskhub_env_fills_a_missing_task_hub(
        self, monkeypatch: pytest.MonkeyPatch, name: str
    ) -> None:
        for other in ("TASKHUB", "TASKHUB_NAME"):
            monkeypatch.delenv(other, raising=False)
        monkeypatch.setenv(name, "agents-hub")
        monkeypatch.setenv(ENV_VAR, "Endpoint=http://localhost:8080;Authentication=None")

        assert resolve_connection() == ConnectionSettings(
            "localhost:8080", taskhub="agents-hub", authentication="None"
        )
        with_hub = "Endpoint=http://localhost:8080;TaskHub=own;Authentication=None"
        assert resolve_connection(with_hub).taskhub == "own"  # the string's own TaskHub wins
        assert resolve_connection("localhost:4001") == ConnectionSettings("localhost:4001")

    def test_missing_task_hub_names_the_env_vars(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("TASKHUB", raising=False)
        monkeypatch.delenv("TASKHUB_NAME", raising=False)
        with pytest.raises(ConnectionStringError, match="neither TASKHUB nor TASKHUB_NAME"):
            resolve_connection("Endpoint=http://localhost:8080;Authentication=None")

    def test_bad_env_names_the_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_VAR, "Endpoint=http://l:1")
        with pytest.raises(ConnectionStringError, match=ENV_VAR):
            resolve_connection()


def _settings(authentication: str, **extra: str) -> ConnectionSettings:
    parts = [f"Endpoint=https://x.durabletask.io;TaskHub=h;Authentication={authentication}"]
    parts += [f"{key}={value}" for key, value in extra.items()]
    return parse_connection_string(";".join(parts))


class TestCreateCredential:
    def test_none_needs_no_credential(self) -> None:
        assert create_credential(_settings("None")) is None
        assert create_credential(_settings("None"), asynchronous=True) is None

    @pytest.mark.parametrize(
        ("authentication", "class_name"),
        [
            ("ManagedIdentity", "ManagedIdentityCredential"),
            ("DefaultAzure", "DefaultAzureCredential"),
            ("AzureCli", "AzureCliCredential"),
            ("Environment", "EnvironmentCredential"),
            ("AzurePowerShell", "AzurePowerShellCredential"),
        ],
    )
    def test_builds_the_named_credential(self, authentication: str, class_name: str) -> None:
        import azure.identity

        credential = create_credential(_settings(authentication))
        assert isinstance(credential, getattr(azure.identity, class_name))

    def test_async_form_fetches_tokens_in_a_thread(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import azure.identity
        from azure.core.credentials import AccessToken
        from azure.core.credentials_async import AsyncTokenCredential

        calls: list[tuple[tuple[str, ...], threading.Thread]] = []

        class FakeCredential:
            def __init__(self, **kwargs: object) -> None:
                self.closed = False

            def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
                calls.append((scopes, threading.current_thread()))
                return AccessToken("token", 123)

            def close(self) -> None:
                self.closed = True

        monkeypatch.setattr(azure.identity, "DefaultAzureCredential", FakeCredential)
        credential = create_credential(_settings("DefaultAzure"), asynchronous=True)
        assert isinstance(credential, AsyncTokenCredential)

        async def use() -> AccessToken:
            async with credential:
                return await credential.get_token("https://durabletask.io/.default")

        assert asyncio.run(use()) == AccessToken("token", 123)
        assert calls[0][0] == ("https://durabletask.io/.default",)
        assert calls[0][1] is not threading.main_thread()

    def test_managed_identity_client_id_is_passed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import azure.identity

        seen: dict[str, object] = {}
        monkeypatch.setattr(
            azure.identity, "ManagedIdentityCredential", lambda **kw: seen.update(kw)
        )
        create_credential(_settings("ManagedIdentity", ClientID="my-client"))
        assert seen == {"client_id": "my-client"}

    def test_workload_identity_gets_client_and_tenant(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import azure.identity

        seen: dict[str, object] = {}
        monkeypatch.setattr(
            azure.identity, "WorkloadIdentityCredential", lambda **kw: seen.update(kw)
        )
        create_credential(_settings("WorkloadIdentity", ClientID="c", TenantId="t"))
        assert seen == {"client_id": "c", "tenant_id": "t"}

    def test_default_azure_client_id_goes_to_managed_identity(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import azure.identity

        seen: dict[str, object] = {}
        monkeypatch.setattr(azure.identity, "DefaultAzureCredential", lambda **kw: seen.update(kw))
        create_credential(_settings("DefaultAzure", ClientID="c"))
        assert seen == {"managed_identity_client_id": "c"}

    def test_missing_azure_identity_is_a_clear_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "azure.identity", None)
        with pytest.raises(DurableWorkflowsError, match="pip install azure-identity"):
            create_credential(_settings("DefaultAzure"))
