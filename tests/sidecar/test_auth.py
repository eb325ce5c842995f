"""Access control: non-loopback binds need a token (or --insecure); tokens and TLS end to end.

The sidecars here are real processes started through the CLI, bound to 0.0.0.0.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from google.protobuf import empty_pb2

from durable_workflows import (
    DurableWorkflowHost,
    DurableWorkflowsError,
    SidecarAuthenticationError,
    WorkflowBuilder,
    WorkflowClient,
    executor,
)
from durable_workflows.graph.workflow import Workflow
from durable_workflows.hosting.connection import ConnectionStringError, parse_connection_string
from durable_workflows.hosting.factories import create_client
from durable_workflows.sidecar import SidecarError, SqliteSidecar
from durable_workflows.sidecar.auth import TOKEN_ENV_VAR, is_loopback

TOKEN = "t0ken-for-the-auth-tests-Zq81xV"
WRONG = "not-the-token-of-this-sidecar-4"


def _workflow() -> Workflow:
    @executor(id="double")
    def double(x: int) -> int:
        return x * 2

    @executor(id="show")
    def show(x: int) -> str:
        return f"v={x}"

    return WorkflowBuilder(double, name="AuthChain").add_edge(double, show).build()


WORKFLOW = _workflow()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV_VAR}
    return {**env, **extra}


def _sidecar(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-u", "-m", "durable_workflows.sidecar", "--db", str(tmp_path / "a.db"),
         "--port", "0", "--log-level", "ERROR", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or _env())


def _address(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"listening on (\S+)", line)
    assert found, (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
    return found.group(1)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@pytest.fixture
def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A sidecar process on 0.0.0.0 that takes its token from the environment; its address."""
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    proc = _sidecar(tmp_path, "--host", "0.0.0.0", env=_env(**{TOKEN_ENV_VAR: TOKEN}))
    try:
        yield _address(proc)
    finally:
        _stop(proc)


async def _run_chain(**host_args: Any) -> Any:
    async with DurableWorkflowHost(workflows=[WORKFLOW], **host_args) as host:
        run = await host.client.run(WORKFLOW, 5)
        return await run.wait_for_completion()


# -- who may bind what ---------------------------------------------------------------------


def test_non_loopback_bind_without_token_refuses_to_start(tmp_path: Path) -> None:
    proc = _sidecar(tmp_path, "--host", "0.0.0.0")
    try:
        assert proc.wait(30) == 2
        assert proc.stderr is not None
        err = proc.stderr.read()
    finally:
        _stop(proc)
    assert "Refusing to listen on '0.0.0.0' without a token" in err
    assert "--token" in err and TOKEN_ENV_VAR in err and "--insecure" in err
    assert not (tmp_path / "a.db").exists()  # refused before touching the database


def test_insecure_allows_a_non_loopback_bind_without_token(tmp_path: Path) -> None:
    proc = _sidecar(tmp_path, "--host", "0.0.0.0", "--insecure")
    try:
        address = _address(proc)
        client = create_client(address)
        assert client.get_orchestration_state("missing") is None
        client.close()
    finally:
        _stop(proc)
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("token", "problem"),
    [("short-token", "shorter than 16"), ("has a space in the token", "printable ASCII")],
)
def test_bad_server_tokens_are_refused(token: str, problem: str) -> None:
    with pytest.raises(SidecarError, match=problem):
        SqliteSidecar(host="0.0.0.0", token=token).start()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("127.0.0.1", True), ("127.5.0.1", True), ("::1", True),
     ("[::1]", True), ("0.0.0.0", False), ("::", False), ("", False), ("10.1.2.3", False),
     ("sidecar.internal", False)],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_tls_without_its_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SidecarError, match="both a certificate and its private key"):
        SqliteSidecar(tls_cert=str(tmp_path / "cert.pem")).start()


def test_unreadable_or_non_pem_tls_files_are_named(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(SidecarError, match=f"cannot read the TLS file {missing}"):
        SqliteSidecar(tls_cert=missing, tls_key=str(key)).start()
    with pytest.raises(SidecarError, match=f"the TLS file {cert} has no PEM block ending in"):
        SqliteSidecar(tls_cert=str(key), tls_key=str(cert)).start()


# -- tokens --------------------------------------------------------------------------------


def test_every_rpc_needs_the_token(guarded: str) -> None:
    with grpc.insecure_channel(guarded) as channel:
        hello = stubs.TaskHubSidecarServiceStub(channel).Hello
        with pytest.raises(grpc.RpcError) as denied:
            hello(empty_pb2.Empty(), timeout=10)
        assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as wrong:
            hello(empty_pb2.Empty(), metadata=[("authorization", f"Bearer {WRONG}")], timeout=10)
        assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
        hello(empty_pb2.Empty(), metadata=[("authorization", f"Bearer {TOKEN}")], timeout=10)


def test_a_client_without_the_token_gets_a_clear_error(guarded: str) -> None:
    async def attempt() -> None:
        client = WorkflowClient.from_connection_string(guarded, [WORKFLOW])
        try:
            await client.run(WORKFLOW, 5)
        finally:
            await client.close()

    with pytest.raises(SidecarAuthenticationError) as caught:
        asyncio.run(attempt())
    message = str(caught.value)
    assert isinstance(caught.value, DurableWorkflowsError)
    assert guarded in message and "none was sent" in message
    assert "--token" in message and TOKEN_ENV_VAR in message and "grpc://TOKEN@" in message


def test_a_wrong_token_gets_a_clear_error_and_is_never_shown(guarded: str) -> None:
    client = create_client(parse_connection_string(f"grpc://{WRONG}@{guarded}"))
    try:
        with pytest.raises(SidecarAuthenticationError, match="the token sent is wrong") as caught:
            client.get_orchestration_state("anything")
    finally:
        client.close()
    assert WRONG not in str(caught.value)


def test_a_worker_with_a_wrong_token_fails_at_start(guarded: str) -> None:
    host = DurableWorkflowHost([WORKFLOW], connection_string=guarded, mode="worker", token=WRONG)
    with pytest.raises(SidecarAuthenticationError, match="the token sent is wrong"):
        host.start()
    host.stop()


@pytest.mark.parametrize("how", ["argument", "address", "environment"])
def test_a_host_with_the_token_runs_a_workflow(
    guarded: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if how == "argument":
        result = asyncio.run(_run_chain(connection_string=guarded, token=TOKEN))
    elif how == "address":
        result = asyncio.run(_run_chain(connection_string=f"grpc://{TOKEN}@{guarded}"))
    else:
        monkeypatch.setenv(TOKEN_ENV_VAR, TOKEN)
        result = asyncio.run(_run_chain(connection_string=guarded))
    assert result == "v=10"


def test_the_token_stays_out_of_repr_and_str() -> None:
    settings = parse_connection_string(f"grpc://:{TOKEN}@sidecar.internal:4001")
    assert settings.token == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    assert str(settings) == "grpc://sidecar.internal:4001"


@pytest.mark.parametrize(
    ("address", "token"),
    [(f"{TOKEN}@localhost:4001", TOKEN), (f"grpcs://:{TOKEN}@h:1", TOKEN),
     ("grpc://a%40b%3Ac-and-more-chars@h:1", "a@b:c-and-more-chars"), ("h:1", None)],
)
def test_tokens_in_addresses(address: str, token: str | None) -> None:
    assert parse_connection_string(address).token == token


@pytest.mark.parametrize("address", ["grpc://user:s3cret-value@h:1", "grpc://@h:1", "grpc://:@h:1"])
def test_malformed_tokens_in_addresses_are_refused_unshown(address: str) -> None:
    with pytest.raises(ConnectionStringError, match="takes a token alone") as caught:
        parse_connection_string(address)
    assert "s3cret" not in str(caught.value)


def test_a_token_is_refused_where_it_means_nothing() -> None:
    with pytest.raises(DurableWorkflowsError, match="the embedded backend needs none"):
        DurableWorkflowHost([WORKFLOW], token=TOKEN)
    scheduler = "Endpoint=http://localhost:8080;TaskHub=default;Authentication=None"
    with pytest.raises(DurableWorkflowsError, match="Authentication="):
        DurableWorkflowHost([WORKFLOW], connection_string=scheduler, token=TOKEN)


def test_cli_status_passes_the_token(guarded: str, tmp_path: Path) -> None:
    def status(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "durable_workflows.cli", "status", "missing-run",
             "--connection-string", guarded, *extra],
            capture_output=True, text=True, env=_env(), timeout=60, cwd=tmp_path)

    refused = status()
    assert refused.returncode == 1
    assert f"The sidecar at {guarded} refused the call" in refused.stderr
    allowed = status("--token", TOKEN)
    assert allowed.returncode == 1 and "no run with id 'missing-run'" in allowed.stderr


# -- TLS -----------------------------------------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


CLIENT = textwrap.dedent(
    """
    import asyncio, sys
    from durable_workflows import DurableWorkflowHost, WorkflowBuilder, executor

    @executor(id="double")
    def double(x: int) -> int:
        return x * 2

    workflow = WorkflowBuilder(double, name="TlsRun").build()

    async def main() -> None:
        async with DurableWorkflowHost([workflow], connection_string=sys.argv[1]) as host:
            run = await host.client.run(workflow, 21)
            print("result", await run.wait_for_completion())

    asyncio.run(main())
    """
)


def test_tls_with_a_token_end_to_end(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    proc = _sidecar(tmp_path, "--host", "0.0.0.0", "--token", TOKEN,
                    "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        address = _address(proc)
        assert address.startswith("grpcs://localhost:")
        script = tmp_path / "tls_client.py"
        script.write_text(CLIENT)
        # The client trusts the self-signed certificate through gRPC's standard variable.
        env = _env(GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=str(cert), **{TOKEN_ENV_VAR: TOKEN})
        done = subprocess.run([sys.executable, str(script), address], capture_output=True,
                              text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "result 42" in done.stdout
        plain = address.replace("grpcs://", "grpc://")
        with grpc.insecure_channel(plain.removeprefix("grpc://")) as channel, \
                pytest.raises(grpc.RpcError) as refused:
            stubs.TaskHubSidecarServiceStub(channel).Hello(
                empty_pb2.Empty(), metadata=[("authorization", f"Bearer {TOKEN}")], timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE  # no TLS, no connection
    finally:
        _stop(proc)
