"""A parked command keeps its identity (issue 22): its commandId (from the body, the Nats-Msg-Id
header or the stream sequence), its deadline and its Idempotency-Key survive parking; a parked
copy nobody can run is dropped loudly, one that outlived its deadline unsettled is buried. Real
nats-server, sandbox over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from bridge.names import DEAD_LETTERS_STREAM, PARKED_STREAM
from bridge.nats.deadletters import Grave
from bridge.nats.parking import (
    ATTEMPTS_HEADER,
    NOT_BEFORE_HEADER,
    STORED_AT_HEADER,
    STREAM_CREATED_HEADER,
    Parked,
    park,
    source_of,
)
from tests.fixtures.bridge import SUBJECTS, Outcomes, StartBridge
from tests.fixtures.waiting import until
from tests.test_commands import requests_log

FAST = {"command_retry_base_seconds": 0.2, "command_retry_max_seconds": 0.5}


def _posts(sandbox: Any) -> list[dict[str, Any]]:
    return [e for e in requests_log(sandbox, "/story-projects") if e["method"] == "POST"]


def _fail_once(sandbox: Any) -> None:
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects", "method": "POST", "status": 503, "times": 1}]
    )


async def _parked_empty(nc: NatsClient) -> bool:
    return (await nc.jetstream().stream_info(PARKED_STREAM)).state.messages == 0


async def test_a_command_named_by_its_header_keeps_its_id_and_key_through_parking(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    await start_bridge(**FAST)
    _fail_once(sandbox)
    await nc.jetstream().publish(
        SUBJECTS.command("project.create"), b'{"name": "h"}', headers={"Nats-Msg-Id": "hdr-1"}
    )
    done = await outcomes.wait_for("hdr-1")
    assert done[-1]["ok"] is True
    assert outcomes.kinds("hdr-1") == ["retrying", "succeeded"]
    assert len({e["idempotencyKey"] for e in _posts(sandbox)}) == 1
    assert await until(lambda: _parked_empty(nc)) is True


async def test_an_anonymous_command_keeps_its_fallback_id_through_parking(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    await start_bridge(**FAST)
    _fail_once(sandbox)
    await nc.jetstream().publish(SUBJECTS.command("project.create"), b'{"name": "anon"}')
    await until(lambda: any(e["type"].endswith(".succeeded") for e in outcomes.events))
    ids = {e["data"]["commandId"] for e in outcomes.events}
    assert len(ids) == 1 and next(iter(ids)).startswith("STORYBRIDGE_COMMANDS-")
    assert [e["type"].rsplit(".", 1)[1] for e in outcomes.events] == ["retrying", "succeeded"]
    assert len({e["idempotencyKey"] for e in _posts(sandbox)}) == 1


async def test_parked_copies_nobody_can_run_or_that_outlived_their_deadline_end(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """Garbage on a parked subject is terminated (not redelivered forever); a parked command long
    past its deadline that never settled (a crash loop) is buried as unprocessable."""
    await start_bridge(command_deadline_seconds=60.0)
    js = nc.jetstream()
    await js.publish(SUBJECTS.parked("project.create"), b"{}", headers={"X": "y"})
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    await js.publish(
        SUBJECTS.parked("project.create"),
        json.dumps({"name": "old", "commandId": "old-1"}).encode(),
        headers={
            STORED_AT_HEADER: long_ago.isoformat(),
            STREAM_CREATED_HEADER: long_ago.isoformat(),
            "Storybridge-Stream-Sequence": "7",
            ATTEMPTS_HEADER: "3",
            NOT_BEFORE_HEADER: "0",
        },
    )
    dead = (await outcomes.wait_for("old-1", kinds=("dead_lettered",)))[0]
    assert dead["reason"] == "unprocessable"
    assert await until(lambda: _parked_empty(nc)) is True
    assert (await js.stream_info(DEAD_LETTERS_STREAM)).state.messages == 1
    assert _posts(sandbox) == []  # neither reached the API


async def test_parked_copies_with_headers_no_bridge_writes_are_dropped_not_looped(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """A naive Stored-At (cannot be compared with an aware time) or an infinite Not-Before (cannot
    be a nak delay) used to raise inside the handler and come back forever: now terminated."""
    await start_bridge()
    js = nc.jetstream()
    now = datetime.now(UTC)
    good = {
        STORED_AT_HEADER: now.isoformat(),
        STREAM_CREATED_HEADER: now.isoformat(),
        "Storybridge-Stream-Sequence": "9",
        ATTEMPTS_HEADER: "1",
        NOT_BEFORE_HEADER: "0",
    }
    for broken in (
        {STORED_AT_HEADER: now.replace(tzinfo=None).isoformat()},
        {NOT_BEFORE_HEADER: "inf"},
    ):
        body = json.dumps({"name": "broken", "commandId": f"broken-{len(broken)}"}).encode()
        await js.publish(SUBJECTS.parked("project.create"), body, headers={**good, **broken})
    assert await until(lambda: _parked_empty(nc)) is True
    assert _posts(sandbox) == []


async def test_parking_the_same_message_twice_keeps_one_copy(
    nc: NatsClient, start_bridge: StartBridge
) -> None:
    """A crash or a stop between the parked copy's PubAck and the original's ack redelivers the
    original, which is parked again: the copy's id names the message parked, so the stream keeps
    one copy (two would run the command twice at once)."""
    await start_bridge()
    js = nc.jetstream()
    now = datetime.now(UTC)
    grave = Grave(
        subject=SUBJECTS.command("project.create"),
        data=b'{"name": "twice"}',
        headers={"Nats-Msg-Id": "twice-1"},
        stream_seq=42,
        stored_at=now,
        deliveries=1,
        stream_created=now,
    )
    original = Msg(_client=nc, subject=SUBJECTS.command("project.create"))
    before = (await js.stream_info(PARKED_STREAM)).state.messages
    for attempts in (0, 1):  # the first delivery parks, the redelivery parks again
        cmd = Parked(grave=grave, attempts=0, not_before=0.0, reason=None)
        await park(
            js,
            SUBJECTS,
            cmd,
            attempts=attempts,
            not_before=(now + timedelta(hours=1)).timestamp(),
            reason="retrying",
            source=source_of(original, SUBJECTS),
        )
    assert (await js.stream_info(PARKED_STREAM)).state.messages == before + 1
