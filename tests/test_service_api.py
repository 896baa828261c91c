"""The NATS service API: the bridge is service `storybridge`, one endpoint per command subject."""

from __future__ import annotations

import json
from typing import Any

from nats.aio.client import Client as NatsClient

from schemas.catalog import COMMAND_MODELS
from tests.fixtures.bridge import SUBJECTS, StartBridge
from tests.fixtures.waiting import until


async def _ask(nc: NatsClient, subject: str) -> dict[str, Any]:
    reply = await nc.request(subject, b"", timeout=10)
    return dict(json.loads(reply.data))


async def test_ping_info_and_stats_answer_as_service_storybridge(
    start_bridge: StartBridge, nc: NatsClient
) -> None:
    """$SRV.PING.storybridge answers; INFO lists every command subject in queue group
    storybridge; STATS counts the requests an endpoint served."""
    await start_bridge()
    ping = await _ask(nc, "$SRV.PING.storybridge")
    assert ping["name"] == "storybridge" and ping["type"] == "io.nats.micro.v1.ping_response"

    info = await _ask(nc, "$SRV.INFO.storybridge")
    endpoints = {e["subject"]: e for e in info["endpoints"]}
    assert set(endpoints) == {SUBJECTS.request(name) for name in COMMAND_MODELS}
    assert {e["queue_group"] for e in endpoints.values()} == {"storybridge"}

    for i in range(3):
        body = json.dumps({"name": f"counted {i}"}).encode()
        outcome = json.loads((await nc.request(SUBJECTS.request("project.create"), body, 30)).data)
        assert outcome["ok"]
    stats = await _ask(nc, "$SRV.STATS.storybridge")
    served = {e["subject"]: e["num_requests"] for e in stats["endpoints"]}
    assert served[SUBJECTS.request("project.create")] == 3
    assert served[SUBJECTS.request("plan.approve")] == 0


async def test_two_replicas_answer_each_request_once(
    start_bridge: StartBridge, nc: NatsClient
) -> None:
    """Both replicas are instances of the service; a request is executed by exactly one."""
    await start_bridge()
    await start_bridge()
    for i in range(10):
        body = json.dumps({"name": f"once {i}"}).encode()
        assert json.loads((await nc.request(SUBJECTS.request("project.create"), body, 30)).data)[
            "ok"
        ]
    pings: list[dict[str, Any]] = []

    async def collect(msg: Any) -> None:
        pings.append(json.loads(msg.data))

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=collect)
    await nc.publish("$SRV.STATS.storybridge", b"", reply=inbox)  # every instance answers
    await until(lambda: len(pings) == 2)
    await sub.unsubscribe()
    total = sum(
        e["num_requests"]
        for p in pings
        for e in p["endpoints"]
        if e["subject"] == SUBJECTS.request("project.create")
    )
    assert total == 10


async def test_an_unknown_subject_is_still_answered_invalid_command(
    start_bridge: StartBridge, nc: NatsClient
) -> None:
    await start_bridge()
    reply = await nc.request(SUBJECTS.request("project.explode"), b"{}", timeout=10)
    outcome = json.loads(reply.data)
    assert outcome["ok"] is False and outcome["error"]["code"] == "invalid_command"
    assert "unknown command" in outcome["error"]["message"]
