"""No command is lost (CONTRACT.md, additions of 2026-12-01): retries to a deadline, dead letters,
redrive, first attempts still running at the API, and hostile payloads. Real nats-server, sandbox
over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from bridge.names import (
    COMMANDS_CONSUMER,
    COMMANDS_STREAM,
    DEAD_LETTERS_STREAM,
    PARKED_CONSUMER,
    PARKED_STREAM,
)
from bridge.nats.embedded import EmbeddedNats
from tests.fixtures.bridge import SUBJECTS, Outcomes, StartBridge, create_plan, send
from tests.fixtures.waiting import until
from tests.test_commands import no_secret_in_logs, requests_log

__all__ = ["no_secret_in_logs"]  # an autouse guard: no scenario here logs the key's secret

PATHS = ["request", "durable"]
# Fast retries for tests; the schedule's shape (doubling, capped) is the same as in production.
FAST_RETRY = {
    "retry_budget_seconds": 0.5,
    "command_retry_base_seconds": 0.2,
    "command_retry_max_seconds": 0.5,
}


def _posts(sandbox: Any, path: str = "/story-projects") -> list[dict[str, Any]]:
    return [e for e in requests_log(sandbox, path) if e["method"] == "POST" and e["path"] == path]


def _projects_named(sandbox: Any, key: str, name: str) -> list[dict[str, Any]]:
    import httpx

    resp = httpx.get(
        f"{sandbox.base_url}/story-projects",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {key}"},
    )
    return [p for p in resp.json()["projects"] if p["name"] == name]


async def _commands_left(nc: NatsClient) -> tuple[int, int, int]:
    """(messages in the stream, pending, ack-pending) of the commands consumer, the parked
    commands' added to each."""
    js = nc.jetstream()
    totals = (0, 0, 0)
    for stream_name, consumer_name in (
        (COMMANDS_STREAM, COMMANDS_CONSUMER),
        (PARKED_STREAM, PARKED_CONSUMER),
    ):
        stream = await js.stream_info(stream_name)
        consumer = await js.consumer_info(stream_name, consumer_name)
        counts = (stream.state.messages, consumer.num_pending, consumer.num_ack_pending)
        totals = (totals[0] + counts[0], totals[1] + counts[1], totals[2] + counts[2])
    return totals


def _raw_publish(
    server: EmbeddedNats, subject: str, reply: str, headers: bytes, data: bytes
) -> None:
    """HPUB with header bytes no client library would produce (not UTF-8)."""
    block = b"NATS/1.0\r\n" + headers + b"\r\n\r\n"
    with socket.create_connection((server.host, server.port), 5) as sock:
        sock.recv(4096)  # INFO
        frame = b"HPUB %s %s %d %d\r\n" % (
            subject.encode(),
            reply.encode(),
            len(block),
            len(block) + len(data),
        )
        sock.sendall(b'CONNECT {"verbose":false,"headers":true}\r\n' + frame + block + data)
        sock.sendall(b"\r\nPING\r\n")
        assert b"PONG" in sock.recv(4096)


# --- hostile payloads ------------------------------------------------------------------------------

HOSTILE = {
    "nested-array": b"[" * 1100 + b"]" * 1100,
    "nested-in-metadata": b'{"name": "deep", "metadata": ' + b'{"a": ' * 1100 + b"1" + b"}" * 1101,
    "moderately-deep": b'{"name": "deep", "metadata": ' + b'{"a": ' * 60 + b"1" + b"}" * 61,
    "huge-integer": b'{"name": "n", "metadata": {"n": ' + b"9" * 5000 + b"}}",
    "long-integer": b'{"name": "n", "metadata": {"n": ' + b"9" * 30 + b"}}",
    "infinite-float": b'{"name": "n", "metadata": {"n": 1e999999}}',
    "nan": b'{"name": "n", "metadata": {"n": NaN}}',
    "huge-string": b'{"name": "' + b"x" * 900_000 + b'"}',
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
async def test_hostile_payloads_are_answered_invalid_command(
    path: str, kind: str, start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes
) -> None:
    """Nesting past the limit and numbers no API takes: invalid_command on both paths, and the
    bridge keeps serving (no RecursionError outside the executor, no silent requester)."""
    await start_bridge()
    outcome = await send(
        nc, outcomes, path, "project.create", HOSTILE[kind], command_id=f"{kind}-{path}"
    )
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "invalid_command"
    assert outcome["error"]["retryable"] is False
    assert (await send(nc, outcomes, path, "project.create", {"name": "after"}))["ok"] is True


@pytest.mark.parametrize("path", PATHS)
async def test_header_bytes_that_are_not_utf8_are_answered_invalid_command(
    path: str,
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    nats_server: EmbeddedNats,
) -> None:
    """A header whose bytes are not UTF-8 names no commandId anyone meant: invalid_command naming
    the header, on both paths; a durable one is terminated, not redelivered."""
    await start_bridge()
    replies: asyncio.Queue[Msg] = asyncio.Queue()
    inbox = nc.new_inbox()
    await nc.subscribe(inbox, cb=replies.put)
    await nc.flush()
    kind = "req" if path == "request" else "cmd"
    subject = f"story.{kind}.project.create"
    headers = b"Nats-Msg-Id: bad-\xff\xfe-id"
    await asyncio.to_thread(
        _raw_publish, nats_server, subject, inbox, headers, b'{"name": "bad header"}'
    )
    if path == "request":
        outcome = json.loads((await asyncio.wait_for(replies.get(), 30)).data)
    else:
        await until(lambda: any(".command.failed" in e["type"] for e in outcomes.events))
        outcome = next(e["data"] for e in outcomes.events if ".command.failed" in e["type"])
        assert await until(lambda: _commands_gone(nc)) is True
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "invalid_command"
    assert outcome["error"]["field"] == "headers.Nats-Msg-Id"


# --- the first attempt still running at the API --------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
async def test_a_post_held_past_the_request_timeout_makes_one_resource_and_succeeds(
    path: str,
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_key: str,
) -> None:
    """The API works on a POST for 3 s; the bridge gives up on it after 1 s and asks again with the
    same key, which is "already processing" (409) until the first one lands: one project, an ok
    outcome, never ok:false."""
    await start_bridge(request_timeout_seconds=1.0, retry_budget_seconds=15.0)
    sandbox.control.put(
        "/faults",
        json=[{"path": "/story-projects", "method": "POST", "hold_ms": 3000, "times": 1}],
    )
    name = f"held-{path}"
    outcome = await send(nc, outcomes, path, "project.create", {"name": name}, command_id=name)

    assert outcome["ok"] is True, outcome
    statuses = [e["status"] for e in _posts(sandbox)]
    if path == "request":
        assert 409 in statuses  # the retry met the first attempt still running
    else:
        # A durable attempt is one try (issue 22): the next one, on the durable schedule, finds
        # the first landed and replays it under the same key.
        assert outcomes.kinds(name) == ["retrying", "succeeded"]
    assert statuses[-1] == 200
    assert len({e["idempotencyKey"] for e in _posts(sandbox)}) == 1
    assert len(_projects_named(sandbox, sandbox_key, name)) == 1
    assert not [e for e in outcomes.events if ".command.failed" in e["type"]]


async def test_a_post_held_past_the_ack_wait_is_executed_once(
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_key: str,
) -> None:
    """A POST held 4 s under a 1.5 s ack wait: the in-progress heartbeat keeps the message, so no
    redelivery races the first attempt; one project, one command.succeeded."""
    await start_bridge(ack_wait_seconds=1.5, request_timeout_seconds=10.0)
    sandbox.control.put(
        "/faults",
        json=[{"path": "/story-projects", "method": "POST", "hold_ms": 4000, "times": 1}],
    )
    outcome = await send(
        nc, outcomes, "durable", "project.create", {"name": "slow"}, command_id="slow"
    )
    assert outcome["ok"] is True
    assert await until(lambda: _commands_gone(nc)) is True
    assert len(outcomes.for_command("slow")) == 1
    assert [e["status"] for e in _posts(sandbox)] == [200]
    assert len(_projects_named(sandbox, sandbox_key, "slow")) == 1


async def test_a_different_body_under_the_same_command_id_is_a_failure_at_once(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """Only a different body under one commandId fails, and the bridge refuses it itself
    (CONTRACT.md "The same commandId is the same operation"): `invalid_command` naming the
    commandId, at once, with no second request."""
    await start_bridge(retry_budget_seconds=30.0)
    first = await send(nc, outcomes, "request", "project.create", {"name": "a"}, command_id="same")
    assert first["ok"] is True
    second = await send(
        nc, outcomes, "request", "project.create", {"name": "b"}, command_id="same", timeout=10
    )
    assert second["ok"] is False
    assert second["error"]["code"] == "invalid_command"
    assert second["error"]["field"] == "commandId"
    assert second["error"]["retryable"] is False
    assert len(_posts(sandbox)) == 1


async def test_a_conflict_the_api_does_not_explain_is_waited_out_then_answered(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """The live API's 409 message covers both meanings and carries no reason, and this commandId
    is new to the bridge (no earlier attempt of it was seen: the key was used before the bridge
    kept fingerprints, or by someone else), so nothing says it is ours: the bridge asks again
    within the budget (backing off, never spinning), then answers the conflict as the API did.
    The same 409 for a commandId the bridge has seen with this very body is "still processing"
    (tests/test_outcomes_true.py)."""
    await start_bridge(retry_budget_seconds=2.0)
    sandbox.control.put(
        "/faults",
        json=[
            {
                "path": "/story-projects",
                "method": "POST",
                "status": 409,
                "code": "idempotency_conflict",
            }
        ],
    )
    outcome = await send(nc, outcomes, "request", "project.create", {"name": "c"}, command_id="c-1")
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "idempotency_conflict"
    assert outcome["error"]["retryable"] is False
    assert 2 <= len(_posts(sandbox)) <= 10  # asked again, with backoff


async def test_an_outcome_that_fails_after_the_api_call_carries_its_result(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """The plan was created (and its work queued), then its watch could not be recorded (the
    watch bucket is gone): the outcome says so, retryable, with the API's result, so a retry
    replays the call instead of creating another plan."""
    await start_bridge()
    project = (await send(nc, outcomes, "request", "project.create", {"name": "w"}))["result"]
    project_id = project["project"]["id"]
    plan = (await create_plan(nc, outcomes, project_id))["result"]["plan"]
    await nc.jetstream().delete_key_value("STORYBRIDGE_WATCHES")
    outcome = await create_plan(nc, outcomes, project_id)
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "bridge_error"
    assert outcome["error"]["retryable"] is True
    assert outcome["result"]["plan"]["id"] != plan["id"]
    assert outcome["result"]["plan"]["projectId"] == project["project"]["id"]


# --- retryable durable commands are kept --------------------------------------------------------


@pytest.mark.slow
async def test_durable_commands_outlive_an_outage_longer_than_the_retry_budget(
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_key: str,
) -> None:
    """503 on POST /story-projects for much longer than the retry budget while 5 durable commands
    arrive: the route is probed, not hammered (one try at a time, the others wait parked), none is
    acked as failed, and when the API recovers all 5 take effect once each and end in
    command.succeeded; nothing is left in the streams."""
    await start_bridge(**FAST_RETRY)
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects", "method": "POST", "status": 503}]
    )
    ids = [f"outage-{i}" for i in range(5)]
    js = nc.jetstream()
    for cid in ids:
        await js.publish(
            SUBJECTS.command("project.create"), json.dumps({"name": cid, "commandId": cid}).encode()
        )
    await until(lambda: len(_posts(sandbox)) >= 6, limit=60)
    await asyncio.sleep(3)
    retrying = [e["data"] for e in outcomes.events if e["type"].endswith(".command.retrying")]
    assert retrying[0]["error"]["code"] == "upstream_unavailable"
    assert retrying[0]["error"]["retryable"] is True
    assert retrying[0]["nextAttemptAt"].endswith("Z")
    for cid in {r["commandId"] for r in retrying}:
        attempts = [r["attempt"] for r in outcomes.of_kind(cid, "retrying")]
        assert attempts == list(range(1, len(attempts) + 1)), attempts
    # Probed, not hammered: at most one try per probe interval (0.5 s here) after the first few.
    assert len(_posts(sandbox)) <= 5 + 3 / 0.5 + 4, len(_posts(sandbox))

    sandbox.control.delete("/faults")
    for cid in ids:
        await outcomes.wait_for(cid, timeout=60)
    for cid in ids:
        kinds = outcomes.kinds(cid)
        assert kinds[-1] == "succeeded" and set(kinds[:-1]) <= {"retrying"}, kinds
        assert len(_projects_named(sandbox, sandbox_key, cid)) == 1
    assert await until(lambda: _commands_gone(nc)) is True


async def _commands_gone(nc: NatsClient) -> bool:
    return await _commands_left(nc) == (0, 0, 0)


@pytest.mark.slow
async def test_a_command_past_its_deadline_is_dead_lettered_and_redrive_replays_it(
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_key: str,
    nats_server: EmbeddedNats,
) -> None:
    """The API creates the project but every answer is lost, past the 2 s deadline: the command
    lands in STORYBRIDGE_DEAD_LETTERS with its headers and a command.dead_lettered event, and leaves
    the commands stream. `storybridge redrive` puts it back; the API replays the first effect."""
    await start_bridge(**FAST_RETRY, command_deadline_seconds=2.0)
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects", "method": "POST", "drop_after": True}]
    )
    await nc.jetstream().publish(
        SUBJECTS.command("project.create"),
        json.dumps({"name": "buried"}).encode(),
        headers={"Nats-Msg-Id": "late-1", "X-Team": "growth"},
    )
    dead = (await outcomes.wait_for("late-1", kinds=("dead_lettered",), timeout=60))[0]
    assert dead["reason"] == "deadline"
    assert dead["error"]["code"] == "upstream_unavailable"
    assert dead["deliveries"] >= 2
    assert await until(lambda: _commands_gone(nc)) is True

    js = nc.jetstream()
    letter = await js.get_msg(DEAD_LETTERS_STREAM, dead["deadLetterSequence"])
    assert letter.subject == "story.dlq.project.create"
    assert json.loads(letter.data or b"") == {"name": "buried"}
    headers = letter.headers or {}
    assert headers["Storybridge-Dead-Reason"] == "deadline"
    assert headers["Storybridge-Command-Id"] == "late-1"
    assert int(headers["Storybridge-Deliveries"]) == dead["deliveries"]
    assert headers["Storybridge-Original-Msg-Id"] == "late-1"
    assert headers["X-Team"] == "growth"
    assert len(_projects_named(sandbox, sandbox_key, "buried")) == 1  # it did take effect

    sandbox.control.delete("/faults")
    cli = [sys.executable, "-m", "bridge.cli.app", "redrive", "--nats-url", nats_server.url]
    dry = await asyncio.to_thread(
        subprocess.run, [*cli, "--dry-run"], capture_output=True, text=True
    )
    assert dry.returncode == 0, dry.stderr
    assert "would redrive 1" in dry.stdout and "project.create" in dry.stdout
    assert (await js.stream_info(DEAD_LETTERS_STREAM)).state.messages == 1

    done = await asyncio.to_thread(
        subprocess.run,
        [*cli, "--command", "project.create", "--since", "1h"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    outcome = (await outcomes.wait_for("late-1", timeout=60))[-1]
    assert outcome["ok"] is True
    assert outcome["replayed"] is True  # the API replayed what had taken effect
    assert len(_projects_named(sandbox, sandbox_key, "buried")) == 1
    assert (await js.stream_info(DEAD_LETTERS_STREAM)).state.messages == 0


async def test_admin_redrive_filters_by_command_and_time(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """`{p}.req.admin.redrive` counts by command, honours `command`, `since` and `dryRun`."""
    await start_bridge(**FAST_RETRY, command_deadline_seconds=0.5)
    sandbox.control.put("/faults", json=[{"path": "/story-projects*", "status": 503}])
    js = nc.jetstream()
    for cid, command, body in [
        ("d-1", "project.create", {"name": "one"}),
        ("d-2", "project.create", {"name": "two"}),
        ("d-3", "project.update", {"projectId": "cmp_x", "description": "d"}),
    ]:
        await js.publish(SUBJECTS.command(command), json.dumps({**body, "commandId": cid}).encode())
    for cid in ("d-1", "d-2", "d-3"):
        await outcomes.wait_for(cid, kinds=("dead_lettered",), timeout=60)

    async def admin(payload: dict[str, Any]) -> dict[str, Any]:
        reply = await nc.request(
            "story.req.admin.redrive", json.dumps(payload).encode(), timeout=30
        )
        outcome = json.loads(reply.data)
        assert outcome["ok"] is True, outcome
        return dict(outcome["result"])

    assert await admin({"dryRun": True}) == {
        "matched": 3,
        "redriven": 0,
        "dryRun": True,
        "commands": {"project.create": 2, "project.update": 1},
    }
    assert (await admin({"since": "2099-01-01T00:00:00Z", "dryRun": True}))["matched"] == 0
    sandbox.control.delete("/faults")
    report = await admin({"command": "project.update"})
    assert report["redriven"] == 1 and report["commands"] == {"project.update": 1}
    assert (await outcomes.wait_for("d-3", timeout=60))[-1]["error"]["code"] == "project_not_found"
    assert (await js.stream_info(DEAD_LETTERS_STREAM)).state.messages == 2
    invalid = json.loads(
        (await nc.request("story.req.admin.redrive", b'{"since": "yesterday"}', timeout=30)).data
    )
    assert invalid["error"]["code"] == "invalid_command"


async def test_a_command_the_consumer_gave_up_on_is_dead_lettered_from_the_advisory(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes
) -> None:
    """Deliveries that never end in an outcome (a crash loop; here a client that fetches and drops
    them) reach max_deliver; the server's advisory makes the bridge bury the message."""
    bridge = await start_bridge(max_deliver=2, ack_wait_seconds=1.0)
    assert bridge.intake is not None
    await bridge.intake.stop(grace=1.0)  # the bridge still listens for advisories
    js = nc.jetstream()
    await js.publish(
        SUBJECTS.command("project.create"), b'{"name": "dropped", "commandId": "dropped-1"}'
    )
    thief = await js.pull_subscribe_bind(durable=COMMANDS_CONSUMER, stream=COMMANDS_STREAM)

    async def steal() -> bool:
        with contextlib.suppress(TimeoutError):
            await thief.fetch(1, timeout=1.5)  # never acked: each fetch is one delivery
        return bool(outcomes.of_kind("dropped-1", "dead_lettered"))

    await until(steal, limit=60)
    dead = outcomes.of_kind("dropped-1", "dead_lettered")[0]
    assert dead["reason"] == "max_deliveries"
    assert dead["command"] == "project.create"
    assert dead["ok"] is False
    assert (await js.stream_info(COMMANDS_STREAM)).state.messages == 0
    assert (await js.stream_info(DEAD_LETTERS_STREAM)).state.messages == 1
    await thief.unsubscribe()


async def test_a_command_probing_a_failing_route_ends_at_its_deadline_not_its_attempts(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """max_deliver counts attempts on the retry schedule. A command held by a failing route is
    that route's probe whenever the gate asks (every few seconds at most, one command at a time),
    so counting those would bury a lone command on a sick route hours before its deadline
    (about 2.5 h with the defaults): it goes on past max_deliver and ends at its deadline."""
    await start_bridge(**FAST_RETRY, max_deliver=3, command_deadline_seconds=6.0)
    sandbox.control.put("/faults", json=[{"path": "/story-projects", "status": 503}])
    await nc.jetstream().publish(
        SUBJECTS.command("project.create"), b'{"name": "n", "commandId": "last"}'
    )
    dead = (await outcomes.wait_for("last", kinds=("dead_lettered",), timeout=60))[0]
    assert dead["reason"] == "deadline"
    assert outcomes.kinds("last").count("retrying") >= 3  # past max_deliver, still probing
    assert await until(lambda: _commands_gone(nc)) is True


async def test_the_fallback_command_id_is_unique_across_stream_lifetimes(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """A durable command with no commandId and no Nats-Msg-Id gets one from its stream sequence AND
    its stored time: after the stream is deleted and re-created (the bridge declares it again), the
    first message's sequence repeats but its commandId, and so its Idempotency-Key, does not."""
    bridge = await start_bridge()
    js = nc.jetstream()
    seen: list[str] = []
    for round_ in range(2):
        await js.publish(SUBJECTS.command("project.create"), b'{"name": "anonymous"}')
        await until(lambda n=round_: len(outcomes.events) > n)
        seen.append(outcomes.events[round_]["data"]["commandId"])
        if round_ == 0:
            await js.delete_stream(COMMANDS_STREAM)
            await until(lambda: _stream_back(nc))
            assert bridge.intake is not None
            await until(lambda: bridge.intake is not None and bridge.intake.healthy())
    assert all(cid.startswith("STORYBRIDGE_COMMANDS-") and cid.endswith("-1") for cid in seen)
    assert seen[0] != seen[1]
    assert [e["ok"] for e in (o["data"] for o in outcomes.events)] == [True, True]
    assert len({e["idempotencyKey"] for e in _posts(sandbox)}) == 2


async def _stream_back(nc: NatsClient) -> bool:
    try:
        await nc.jetstream().stream_info(COMMANDS_STREAM)
    except Exception:
        return False
    return True
