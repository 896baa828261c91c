"""The people-facing commands, run as real processes against a running bridge."""

from __future__ import annotations

import asyncio
import json

from nats.aio.client import Client as NatsClient

from bridge.nats.embedded import EmbeddedNats
from tests.fixtures.bridge import StartBridge
from tests.fixtures.cli import CLI


async def storybridge(*args: str, timeout: float = 60) -> tuple[int, str]:
    """Run `storybridge ARGS` to completion: (exit code, stdout + stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_send_prints_the_outcome_and_exits_zero_on_ok(
    start_bridge: StartBridge, nats_server: EmbeddedNats
) -> None:
    """Request/reply and --durable both print the outcome; the created project is in it."""
    await start_bridge()
    body = json.dumps({"name": "from the cli", "commandId": "cli-1"})
    code, out = await storybridge("send", "project.create", body, "--nats-url", nats_server.url)
    assert code == 0, out
    assert "project.create: ok" in out and '"cli-1"' in out and "from the cli" in out
    code, out = await storybridge(
        "send", "project.create", '{"name": "durable"}', "--durable", "--nats-url", nats_server.url
    )
    assert code == 0, out
    assert "project.create: ok" in out and "durable" in out


async def test_send_exits_non_zero_on_a_failed_outcome(
    start_bridge: StartBridge, nats_server: EmbeddedNats
) -> None:
    """ok:false exits 1 and shows the code and the field; a payload that is not JSON exits 2."""
    await start_bridge()
    code, out = await storybridge(
        "send", "project.create", '{"name": ""}', "--nats-url", nats_server.url
    )
    assert code == 1, out
    assert "invalid_command" in out and "name" in out
    code, out = await storybridge("send", "project.create", "{nope", "--nats-url", nats_server.url)
    assert code == 2, out
    assert "not JSON" in out


async def test_tail_prints_one_line_per_event_as_it_arrives(
    start_bridge: StartBridge, nats_server: EmbeddedNats, nc: NatsClient
) -> None:
    """`tail --limit 1` started before a command prints that command's outcome event, then exits."""
    await start_bridge()
    proc = await asyncio.create_subprocess_exec(
        *CLI, "tail", "--limit", "1", "--nats-url", nats_server.url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    banner = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert b"tailing story.evt.>" in banner
    body = json.dumps({"name": "tailed", "commandId": "tail-1"}).encode()
    await nc.request("story.req.project.create", body, timeout=30)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    text = out.decode()
    assert "command.succeeded" in text and "project.create" in text and "commandId=tail-1" in text


async def test_tail_since_replays_the_stream_then_stays_live(
    start_bridge: StartBridge, nats_server: EmbeddedNats, nc: NatsClient
) -> None:
    """`tail --since 1h` prints an event from before it started, then one that comes after."""
    await start_bridge()
    before = json.dumps({"name": "earlier", "commandId": "tail-before"}).encode()
    await nc.request("story.req.project.create", before, timeout=30)
    proc = await asyncio.create_subprocess_exec(
        *CLI, "tail", "story.evt.command.>", "--since", "1h", "--limit", "2",
        "--nats-url", nats_server.url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[bytes] = []
    while not any(b"commandId=" in line for line in lines):  # the banner may wrap
        lines.append(await asyncio.wait_for(proc.stdout.readline(), 30))
    assert b"tailing story.evt.command.>" in lines[0] and b"from" in b"".join(lines)
    assert b"commandId=tail-before" in lines[-1]
    after = json.dumps({"name": "later", "commandId": "tail-after"}).encode()
    await nc.request("story.req.project.create", after, timeout=30)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert "commandId=tail-after" in out.decode()


async def test_tail_since_rejects_a_malformed_duration() -> None:
    code, out = await storybridge("tail", "--since", "yesterday")
    assert code == 2 and "90s, 15m, 2h, 7d" in out
