"""Connection strings: where workers and clients find their Durable Task backend.

Two forms are understood:

* a Durable Task Scheduler connection string,
  ``Endpoint=https://name.region.durabletask.io;TaskHub=hub;Authentication=ManagedIdentity``;
* a plain sidecar address, ``host:port`` (optionally ``grpc://``, ``grpcs://``, ``http://`` or
  ``https://`` in front, and ``TOKEN@`` before the host for a sidecar that requires a token),
  for any server speaking the Durable Task gRPC API.

No connection string at all means "use the embedded backend" (see `resolve_connection`).
"""

from __future__ import annotations

import asyncio
import importlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NoReturn, get_args, overload
from urllib.parse import unquote, urlsplit

from ..errors import DurableWorkflowsError

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential
    from azure.core.credentials_async import AsyncTokenCredential

ENV_VAR = "DURABLE_TASK_SCHEDULER_CONNECTION_STRING"
"""The environment variable read by `resolve_connection` when no connection string is given."""

TASKHUB_ENV_VARS = ("TASKHUB", "TASKHUB_NAME")
"""Read by `resolve_connection` for a scheduler connection string without ``TaskHub=``
(the names the Agent Framework samples use)."""

Authentication = Literal[
    "None",
    "DefaultAzure",
    "ManagedIdentity",
    "WorkloadIdentity",
    "Environment",
    "AzureCli",
    "AzurePowerShell",
]
"""How a Durable Task Scheduler client authenticates (the ``Authentication=`` value)."""

_AUTHENTICATIONS: dict[str, Authentication] = {
    name.lower(): name for name in get_args(Authentication)
}
_CREDENTIAL_CLASSES: dict[Authentication, str] = {
    "DefaultAzure": "DefaultAzureCredential",
    "ManagedIdentity": "ManagedIdentityCredential",
    "WorkloadIdentity": "WorkloadIdentityCredential",
    "Environment": "EnvironmentCredential",
    "AzureCli": "AzureCliCredential",
    "AzurePowerShell": "AzurePowerShellCredential",
}
_USES_CLIENT_ID = ("DefaultAzure", "ManagedIdentity", "WorkloadIdentity")
_USES_TENANT_ID = ("DefaultAzure", "WorkloadIdentity", "AzureCli", "AzurePowerShell")
_KEYS = {
    "endpoint": "Endpoint",
    "taskhub": "TaskHub",
    "authentication": "Authentication",
    "clientid": "ClientID",
    "tenantid": "TenantId",
    "resourceid": "ResourceId",
}
_SCHEMES = {"grpc": False, "http": False, "grpcs": True, "https": True}
_DEFAULT_PORTS = {False: 80, True: 443}

SCHEDULER_EXAMPLE = "Endpoint=http://localhost:8080;TaskHub=default;Authentication=None"
SIDECAR_EXAMPLE = "localhost:4001"


class ConnectionStringError(DurableWorkflowsError, ValueError):
    """A connection string or sidecar address cannot be understood."""


@dataclass(frozen=True)
class ConnectionSettings:
    """Where workers and clients connect: a Durable Task Scheduler task hub or a plain sidecar.

    Credentials are built on demand by `create_credential`. The only secret it may hold, a
    sidecar `token`, is left out of its repr and str.
    """

    host_address: str
    """``host:port`` of the gRPC endpoint, without a scheme."""
    secure: bool = False
    """Use TLS."""
    taskhub: str | None = None
    """The Durable Task Scheduler task hub; None for a plain sidecar."""
    authentication: Authentication = "None"
    """How to authenticate to the Durable Task Scheduler."""
    client_id: str | None = None
    """Client id of a user-assigned managed identity or a workload identity."""
    tenant_id: str | None = None
    """Entra tenant for the credential."""
    resource_id: str | None = None
    """Token audience override (durabletask's default is ``https://durabletask.io``)."""
    token: str | None = field(default=None, repr=False)
    """The shared token of a plain sidecar started with ``--token``."""

    @property
    def is_scheduler(self) -> bool:
        """True for a Durable Task Scheduler task hub, False for a plain sidecar."""
        return self.taskhub is not None

    def __str__(self) -> str:
        """The settings as a connection string that parses back to them, without the token."""
        if not self.is_scheduler:
            return f"{'grpcs' if self.secure else 'grpc'}://{self.host_address}"
        scheme = "https" if self.secure else "http"
        parts = [
            f"Endpoint={scheme}://{self.host_address}",
            f"TaskHub={self.taskhub}",
            f"Authentication={self.authentication}",
        ]
        for key, value in (
            ("ClientID", self.client_id),
            ("TenantId", self.tenant_id),
            ("ResourceId", self.resource_id),
        ):
            if value:
                parts.append(f"{key}={value}")
        return ";".join(parts)


def parse_connection_string(value: str, *, taskhub: str | None = None) -> ConnectionSettings:
    """Parse a Durable Task Scheduler connection string or a plain sidecar address.

    Keys are case-insensitive and whitespace around keys, values and ``;`` is ignored.
    `taskhub` is used when a scheduler string has no ``TaskHub=``.
    Raises `ConnectionStringError` naming the bad part and showing a valid example.
    """
    text = value.strip()
    if not text:
        _fail(
            "The connection string is empty.",
            "Give one like",
        )
    if "=" in text or ";" in text:
        return _parse_scheduler(text, taskhub)
    return _parse_sidecar(text)


def resolve_connection(explicit: str | None = None) -> ConnectionSettings | None:
    """The settings to use: `explicit`, else `ENV_VAR`; None means the embedded backend.

    A blank value (explicit or in the environment) counts as not given. A scheduler string
    without ``TaskHub=`` takes the task hub from ``TASKHUB`` or ``TASKHUB_NAME``.
    """
    hubs = (os.environ.get(name, "").strip() for name in TASKHUB_ENV_VARS)
    taskhub = next((hub for hub in hubs if hub), None)
    if explicit is not None and explicit.strip():
        return parse_connection_string(explicit, taskhub=taskhub)
    from_env = os.environ.get(ENV_VAR, "")
    if not from_env.strip():
        return None
    try:
        return parse_connection_string(from_env, taskhub=taskhub)
    except ConnectionStringError as error:
        msg = f"The environment variable {ENV_VAR} is invalid. {error}"
        raise ConnectionStringError(msg) from None


@overload
def create_credential(
    settings: ConnectionSettings, *, asynchronous: Literal[False] = False
) -> TokenCredential | None: ...
@overload
def create_credential(
    settings: ConnectionSettings, *, asynchronous: Literal[True]
) -> AsyncTokenCredential | None: ...
def create_credential(
    settings: ConnectionSettings, *, asynchronous: bool = False
) -> TokenCredential | AsyncTokenCredential | None:
    """Build the azure-identity credential `settings` asks for (None for no authentication).

    Imports ``azure.identity`` only here, so only connection strings that authenticate need
    it. The asynchronous form wraps the synchronous credential and fetches tokens in a thread
    (a token lasts about an hour), so ``azure.identity.aio`` and aiohttp are not needed.
    """
    if settings.authentication == "None":
        return None
    try:
        identity = importlib.import_module("azure.identity")
    except ImportError:
        msg = (
            f"Authentication={settings.authentication} needs the azure-identity package, "
            "which is not installed. Install it with `pip install azure-identity`, "
            "or use Authentication=None for a local emulator."
        )
        raise DurableWorkflowsError(msg) from None
    credential_class = getattr(identity, _CREDENTIAL_CLASSES[settings.authentication])
    credential: TokenCredential = credential_class(**_credential_kwargs(settings))
    return _ThreadedAsyncCredential(credential) if asynchronous else credential


class _ThreadedAsyncCredential:
    """An `AsyncTokenCredential` that calls a synchronous credential in a worker thread."""

    def __init__(self, credential: TokenCredential) -> None:
        self._credential = credential

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return await asyncio.to_thread(
            self._credential.get_token,
            *scopes,
            claims=claims,
            tenant_id=tenant_id,
            enable_cae=enable_cae,
            **kwargs,
        )

    async def close(self) -> None:
        close = getattr(self._credential, "close", None)
        if close is not None:
            close()

    async def __aenter__(self) -> _ThreadedAsyncCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _credential_kwargs(settings: ConnectionSettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    client_id, tenant_id = settings.client_id, settings.tenant_id
    if settings.authentication == "DefaultAzure":
        if client_id:
            kwargs["managed_identity_client_id"] = client_id
        if tenant_id:
            kwargs["workload_identity_tenant_id"] = tenant_id
        return kwargs
    if client_id:
        kwargs["client_id"] = client_id
    if tenant_id:
        kwargs["tenant_id"] = tenant_id
    return kwargs


def _parse_scheduler(text: str, taskhub: str | None) -> ConnectionSettings:
    fields: dict[str, str] = {}
    unknown: list[str] = []
    for index, raw_part in enumerate(text.split(";"), start=1):
        part = raw_part.strip()
        if not part:
            continue
        key, sep, raw_value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            _fail(f"Part {index} of the connection string ({part!r}) is not of the form Key=Value.")
        canonical = _KEYS.get(key.replace(" ", "").lower())
        if canonical is None:
            unknown.append(key)  # never echo the value: it could be a secret
            continue
        if canonical in fields:
            _fail(f"The key {canonical} appears more than once in the connection string.")
        fields[canonical] = raw_value.strip()
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        _fail(
            f"Unknown key{'s' * (len(unknown) > 1)} {names} in the connection string; "
            f"the known keys are {', '.join(_KEYS.values())}."
        )
    if not fields.get("TaskHub") and taskhub:
        fields["TaskHub"] = taskhub
    for required in ("Endpoint", "TaskHub", "Authentication"):
        if not fields.get(required):
            also = " (and neither TASKHUB nor TASKHUB_NAME is set)" if required == "TaskHub" else ""
            _fail(f"The connection string has no {required}=... value{also}.")

    authentication = _AUTHENTICATIONS.get(fields["Authentication"].replace(" ", "").lower())
    if authentication is None:
        _fail(
            f"Authentication={fields['Authentication']} is not supported; use one of "
            f"{', '.join(_AUTHENTICATIONS.values())}."
        )
    client_id = fields.get("ClientID") or None
    tenant_id = fields.get("TenantId") or None
    if client_id and authentication not in _USES_CLIENT_ID:
        _fail(
            f"ClientID is not used with Authentication={authentication}; it applies to "
            f"{', '.join(_USES_CLIENT_ID)}."
        )
    if tenant_id and authentication not in _USES_TENANT_ID:
        _fail(
            f"TenantId is not used with Authentication={authentication}; it applies to "
            f"{', '.join(_USES_TENANT_ID)}."
        )
    host_address, secure = _split_endpoint(fields["Endpoint"], default_secure=True)
    return ConnectionSettings(
        host_address=host_address,
        secure=secure,
        taskhub=fields["TaskHub"],
        authentication=authentication,
        client_id=client_id,
        tenant_id=tenant_id,
        resource_id=fields.get("ResourceId") or None,
    )


def _parse_sidecar(text: str) -> ConnectionSettings:
    text, token = _split_token(text)
    if ".durabletask.io" in text.lower():
        _fail(
            f"{text!r} looks like a Durable Task Scheduler endpoint; it needs a task hub and "
            "authentication: Endpoint=https://NAME.REGION.durabletask.io;TaskHub=HUB;"
            "Authentication=DefaultAzure."
        )
    host_address, secure = _split_endpoint(text, default_secure=False, require_port=True)
    return ConnectionSettings(host_address=host_address, secure=secure, token=token)


def _split_token(address: str) -> tuple[str, str | None]:
    """``(address without TOKEN@, TOKEN)``; ``:TOKEN@`` works too, percent-escapes are decoded."""
    scheme, sep, rest = address.partition("://") if "://" in address else ("", "", address)
    userinfo, at, host_port = rest.rpartition("@")
    if not at:
        return address, None
    user, colon, password = userinfo.partition(":")
    token = unquote(password if colon else user)
    if (colon and user) or not token:
        _fail("A sidecar address takes a token alone before the host (never shown here): "
              "grpc://TOKEN@host:port.")
    return f"{scheme}{sep}{host_port}", token


def _split_endpoint(
    endpoint: str, *, default_secure: bool, require_port: bool = False
) -> tuple[str, bool]:
    """``(host:port, secure)`` for an endpoint URL or a bare ``host[:port]``."""
    has_scheme = "://" in endpoint
    parts = urlsplit(endpoint if has_scheme else f"//{endpoint}")
    scheme = parts.scheme.lower()
    if has_scheme and scheme not in _SCHEMES:
        _fail(
            f"The endpoint {endpoint!r} has the scheme {parts.scheme!r}; "
            f"use one of {', '.join(s + '://' for s in _SCHEMES)}."
        )
    if parts.username or parts.password:
        _fail("The endpoint must not contain a user name or password.")
    if parts.path.strip("/") or parts.query or parts.fragment:
        _fail(f"The endpoint {endpoint!r} must be a scheme, host and port only, with no path.")
    secure = _SCHEMES[scheme] if has_scheme else default_secure
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        _fail(f"The endpoint {endpoint!r} has an invalid port.")
    if not host:
        _fail(f"The endpoint {endpoint!r} has no host name.")
    if port is None:
        if require_port:
            _fail(f"The sidecar address {endpoint!r} has no port; write it as host:port.")
        port = _DEFAULT_PORTS[secure]
    shown_host = f"[{host}]" if ":" in host else host
    return f"{shown_host}:{port}", secure


def _fail(problem: str, hint: str = "Write it like") -> NoReturn:
    msg = (
        f"{problem} {hint} {SCHEDULER_EXAMPLE!r} (Durable Task Scheduler) or "
        f"{SIDECAR_EXAMPLE!r} (a plain sidecar address)."
    )
    raise ConnectionStringError(msg)
