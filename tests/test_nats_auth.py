"""NATS credentials and TLS: each mechanism connects a real bridge; a wrong one is one clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nkeys
import pytest

from bridge.config import BridgeSettings
from bridge.names import Subjects
from bridge.nats.connection import NatsRefused, check_credentials, connect_options
from bridge.nats.embedded import EmbeddedNats, free_port
from bridge.nats.streams import ReplicasUnavailable, declare_standalone
from bridge.runtime import Bridge
from tests.fixtures.bridge import bridge_settings
from tests.fixtures.jwt import make_operator
from tests.fixtures.tls import Pki, make_ca, make_pki

TOKEN = "t0ken-for-the-bridge"
PASSWORD = "pa55word-for-the-bridge"
SEED = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode()
NKEY_PUBLIC = nkeys.from_seed(bytearray(SEED.encode())).public_key.decode()
WRONG_SEED = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode()

AUTH_CONFIG = f"""
authorization {{
  users: [
    {{ user: "bridge", password: "{PASSWORD}" }},
    {{ nkey: "{NKEY_PUBLIC}" }},
  ]
}}
"""
TOKEN_CONFIG = f'authorization {{ token: "{TOKEN}" }}\n'

# (settings that authenticate, the same with a wrong secret) per mechanism
MECHANISMS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "token": (TOKEN_CONFIG, {"nats_token": TOKEN}, {"nats_token": "not-the-token"}),
    "user/password": (
        AUTH_CONFIG,
        {"nats_user": "bridge", "nats_password": PASSWORD},
        {"nats_user": "bridge", "nats_password": "not-the-password"},
    ),
    "nkey": (AUTH_CONFIG, {"nats_nkey_seed": SEED}, {"nats_nkey_seed": WRONG_SEED}),
}


def _server(root: Path, extra: str) -> EmbeddedNats:
    return EmbeddedNats(root / "nats", extra_config=extra).start()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_server(tmp_path: Path, pki: Pki) -> Iterator[EmbeddedNats]:
    """A server that requires TLS and a client certificate signed by the test CA."""
    server = _server(
        tmp_path,
        f'tls {{ cert_file: "{pki.server_cert}", key_file: "{pki.server_key}", '
        f'ca_file: "{pki.ca}", verify: true }}\n',
    )
    yield server
    server.stop()


async def _bridge_answers(server: EmbeddedNats, sandbox: Any, key: str, root: Path, **auth: Any):
    """A whole bridge on this server with these settings, answering project.create."""
    settings = bridge_settings(server.url, sandbox.base_url, key, root / "bridge", **auth)
    bridge = Bridge(settings)
    await bridge.start()
    try:
        nc = await nats.connect(server.url, **connect_options(settings))
        reply = await nc.request(
            "story.req.project.create", json.dumps({"name": "authed"}).encode(), timeout=30
        )
        await nc.close()
        return json.loads(reply.data)
    finally:
        await bridge.stop()


@pytest.mark.parametrize("mechanism", list(MECHANISMS))
async def test_a_bridge_runs_on_a_server_that_requires_credentials(
    mechanism: str, tmp_path: Path, sandbox: Any, sandbox_key: str
) -> None:
    """Token, user/password and NKey each authenticate the bridge, which then answers commands."""
    config, good, _ = MECHANISMS[mechanism]
    server = _server(tmp_path, config)
    try:
        outcome = await _bridge_answers(server, sandbox, sandbox_key, tmp_path, **good)
    finally:
        server.stop()
    assert outcome["ok"], outcome


@pytest.mark.parametrize("mechanism", list(MECHANISMS))
async def test_a_wrong_credential_is_refused_at_once_naming_the_settings(
    mechanism: str, tmp_path: Path
) -> None:
    """A wrong secret raises NatsRefused on the first attempt; the message names the mechanism and
    the settings to check, and never the secret."""
    config, _, wrong = MECHANISMS[mechanism]
    server = _server(tmp_path, config)
    try:
        with pytest.raises(NatsRefused) as refused:
            await check_credentials([server.url], BridgeSettings(**wrong))
    finally:
        server.stop()
    message = str(refused.value)
    assert f"auth={mechanism}" in message and "STORYBRIDGE_NATS_" in message
    for secret in (*wrong.values(), TOKEN, PASSWORD, SEED):
        if secret != "bridge":
            assert secret not in message


async def test_an_unreachable_server_is_not_a_refusal(tmp_path: Path) -> None:
    """Nothing listening: the preflight returns, and the bridge keeps trying as before."""
    await check_credentials([f"nats://127.0.0.1:{free_port()}"], BridgeSettings(nats_token="x"))


async def test_a_bridge_runs_over_tls_with_a_client_certificate(
    tls_server: EmbeddedNats, pki: Pki, tmp_path: Path, sandbox: Any, sandbox_key: str
) -> None:
    """CA, certificate and key from the settings: the bridge connects over verified TLS."""
    outcome = await _bridge_answers(
        tls_server,
        sandbox,
        sandbox_key,
        tmp_path,
        nats_tls_ca=pki.ca,
        nats_tls_cert=pki.client_cert,
        nats_tls_key=pki.client_key,
    )
    assert outcome["ok"], outcome


async def test_a_server_certificate_from_another_ca_is_refused(
    tls_server: EmbeddedNats, pki: Pki, tmp_path: Path
) -> None:
    """Trusting the wrong CA is a TLS refusal, not an endless reconnect."""
    other_ca, _, _ = make_ca(tmp_path, "other-ca")
    settings = BridgeSettings(
        nats_tls_ca=other_ca, nats_tls_cert=pki.client_cert, nats_tls_key=pki.client_key
    )
    with pytest.raises(NatsRefused, match="TLS"):
        await check_credentials([tls_server.url], settings)


def test_secrets_come_from_files_and_never_show_in_the_settings(tmp_path: Path) -> None:
    """*_FILE settings read a mounted Secret; repr and dumps mask the values."""
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "password").write_text(PASSWORD)
    token = BridgeSettings(nats_token_file=tmp_path / "token")
    userpass = BridgeSettings(nats_user="bridge", nats_password_file=tmp_path / "password")
    assert token.nats_token is not None and token.nats_token.get_secret_value() == TOKEN
    assert userpass.nats_password is not None
    assert userpass.nats_password.get_secret_value() == PASSWORD
    for settings in (token, userpass):
        assert TOKEN not in repr(settings) and PASSWORD not in repr(settings)
        assert TOKEN not in settings.model_dump_json()


def test_two_authentication_mechanisms_at_once_are_rejected() -> None:
    with pytest.raises(ValueError, match="choose one NATS authentication"):
        BridgeSettings(nats_token="a", nats_user="b", nats_password="c")


async def test_more_replicas_than_servers_is_one_clear_error(tmp_path: Path) -> None:
    """STORYBRIDGE_STREAM_REPLICAS=3 on a single server names the setting and the fix."""
    with EmbeddedNats(tmp_path / "single") as server:
        nc = await nats.connect(server.url)
        try:
            with pytest.raises(ReplicasUnavailable, match="STORYBRIDGE_STREAM_REPLICAS"):
                await declare_standalone(nc.jetstream(), Subjects("story"), replicas=3)
        finally:
            await nc.close()


def test_storybridge_run_with_a_wrong_token_exits_with_one_error_line(tmp_path: Path) -> None:
    """The process stops with exit code 2 and one `cannot start` line, not a reconnect loop."""
    server = _server(tmp_path, TOKEN_CONFIG)
    env = {
        **{
            k: v for k, v in os.environ.items() if not k.startswith(("STORYBRIDGE_", "SLEEPERHIT_"))
        },
        "STORYBRIDGE_NATS_URL": server.url,
        "STORYBRIDGE_NATS_TOKEN": "wrong-token-value",
        "STORYBRIDGE_HTTP_PORT": str(free_port()),
        "STORYBRIDGE_DATA_DIR": str(tmp_path / "data"),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bridge.cli.app", "run", "--sandbox"],
            env=env,
            capture_output=True,
            timeout=120,  # a guard against the loop this test rules out, not a measured limit
        )
    finally:
        server.stop()
    output = (done.stdout + done.stderr).decode()
    errors = [line for line in output.splitlines() if "cannot start" in line]
    assert done.returncode == 2, output[-2000:]
    assert len(errors) == 1, output[-2000:]
    assert "Authorization Violation" in errors[0] or "authorization" in errors[0].lower()
    assert "wrong-token-value" not in output
    assert "Traceback" not in output


async def test_a_bridge_runs_with_a_creds_file(
    tmp_path: Path, sandbox: Any, sandbox_key: str
) -> None:
    """Operator mode (JWTs made by the test): the user's .creds file authenticates the bridge,
    JetStream included."""
    operator = make_operator(tmp_path / "jwt")
    server = _server(tmp_path, operator.config)
    try:
        outcome = await _bridge_answers(
            server, sandbox, sandbox_key, tmp_path, nats_creds=operator.creds
        )
    finally:
        server.stop()
    assert outcome["ok"], outcome


async def test_a_creds_file_of_an_unknown_account_is_refused(tmp_path: Path) -> None:
    operator = make_operator(tmp_path / "jwt")
    server = _server(tmp_path, operator.config)
    try:
        with pytest.raises(NatsRefused, match="auth=creds"):
            await check_credentials([server.url], BridgeSettings(nats_creds=operator.foreign_creds))
    finally:
        server.stop()
