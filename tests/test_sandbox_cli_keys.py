"""`storybridge sandbox` options narrow the accepted keys and their scopes (the contract), so
`insufficient_scope` can be shown from the command line, through the bridge as well."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from bridge.nats.embedded import EmbeddedNats, free_port
from bridge.runtime import Bridge
from tests.fixtures.bridge import SUBJECTS, bridge_settings
from tests.fixtures.cli import CLI, sandbox_process
from tests.fixtures.sandbox import any_key

READER = any_key()


def _serve(*options: str) -> Iterator[str]:
    with sandbox_process(*options, ready_path="/api/v1/openapi.json") as (_, port):
        yield f"http://127.0.0.1:{port}/api/v1"


@pytest.fixture
def reader_only() -> Iterator[str]:
    """A sandbox that accepts one key, READER, with story:read only."""
    yield from _serve("--key", f"{READER}=story:read")


@pytest.fixture
def read_scopes_for_everyone() -> Iterator[str]:
    yield from _serve("--scopes", "story:read,credits:read")


def _create(base: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{base}/story-projects",
        json={"name": "x"},
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "k-1"},
        timeout=10,
    )


def test_a_listed_key_gets_only_its_scopes_and_other_keys_are_refused(reader_only: str) -> None:
    """--key KEY=story:read: reads pass, a write is 403 insufficient_scope naming story:write,
    and a key not listed is 401 invalid_api_key."""
    auth = {"Authorization": f"Bearer {READER}"}
    assert httpx.get(f"{reader_only}/story-projects", headers=auth, timeout=10).status_code == 200
    refused = _create(reader_only, READER)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    assert "story:write" in refused.json()["error"]["message"]
    stranger = _create(reader_only, any_key())
    assert stranger.status_code == 401
    assert stranger.json()["error"]["code"] == "invalid_api_key"


def test_scopes_narrow_what_any_key_may_do(read_scopes_for_everyone: str) -> None:
    """--scopes story:read,credits:read: any well-formed key reads, and cannot write."""
    key = any_key()
    credits = httpx.get(
        f"{read_scopes_for_everyone}/credits", headers={"Authorization": f"Bearer {key}"}
    )
    assert credits.status_code == 200
    assert _create(read_scopes_for_everyone, key).json()["error"]["code"] == "insufficient_scope"


def test_a_bad_scope_name_is_refused_at_startup() -> None:
    """An unknown scope exits 2 naming it and the known ones, before serving anything."""
    proc = subprocess.run(
        [*CLI, "sandbox", "--port", str(free_port()), "--key", f"{READER}=story:reed"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "story:reed" in proc.stdout + proc.stderr
    assert READER.rsplit("_", 1)[1] not in proc.stdout + proc.stderr  # the secret stays secret


async def test_a_bridge_command_on_a_read_only_key_answers_insufficient_scope(
    reader_only: str, nats_server: EmbeddedNats, nc: NatsClient, tmp_path: Path
) -> None:
    """Through the bridge: project.create with that key is ok:false, insufficient_scope, not
    retryable, with the API's requestId."""
    bridge = Bridge(bridge_settings(nats_server.url, reader_only, READER, tmp_path / "b"))
    await bridge.start()
    try:
        await nc.flush()
        reply = await nc.request(
            SUBJECTS.request("project.create"), json.dumps({"name": "nope"}).encode(), timeout=30
        )
    finally:
        await bridge.stop()
    outcome = json.loads(reply.data)
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "insufficient_scope"
    assert outcome["error"]["retryable"] is False and outcome["error"]["requestId"]
