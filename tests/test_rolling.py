"""A rolling update (CONTRACT.md, "One part never stalls the rest"; issue 22 point 3): start the new
replica, SIGTERM the old one, under a steady flow of durable commands whose API calls are slow. The
stopping replica stops fetching, finishes (or hands back) what it holds and releases its shards, so
no command waits out the ack wait and no watch waits out a lease. Real processes, real signals."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tests.fixtures.bridge import SUBJECTS, Outcomes, StartBridge
from tests.fixtures.requestlog import requests_of
from tests.fixtures.waiting import until

pytestmark = pytest.mark.slow

# Long enough that a command left to the ack wait (or a shard left to its lease) shows.
ROLL_ENV = {
    "STORYBRIDGE_ACK_WAIT_SECONDS": "30",
    "STORYBRIDGE_SHUTDOWN_GRACE_SECONDS": "10",
    "STORYBRIDGE_WATCH_LEASE_SECONDS": "30",
    "STORYBRIDGE_MAX_IN_FLIGHT": "32",
}
# "Within a few seconds of its publish": the API holds each create 1 s.
OUTCOME_BOUND_SECONDS = 6.0


class Timeline:
    """When each command was published and answered; every job.ready by job id."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.ready: Counter[str] = Counter()

    async def on_msg(self, msg: Msg) -> None:
        event = json.loads(msg.data)
        kind = event["type"].rsplit(".", 1)[1]
        if ".command." in msg.subject and kind in ("succeeded", "failed"):
            self.done.setdefault(event["data"]["commandId"], time.monotonic())
        elif msg.subject == SUBJECTS.event("job.ready"):
            self.ready[event["data"]["id"]] += 1


async def _approved_plan(story_client: Any, name: str) -> str:
    project = (await story_client.create_project({"name": name}, idempotency_key=f"p-{name}")).data
    plan = (
        await story_client.create_plan(
            project.id,
            {
                "target": {"audience": "a", "objective": "o", "outcome": "x"},
                "artifactRequests": [{"type": "table_read"}],
            },
            idempotency_key=f"plan-{name}",
        )
    ).data

    async def waiting() -> bool:
        return bool((await story_client.get_plan(plan.id)).data.status == "REQUIRES_APPROVAL")

    await until(waiting, limit=60)
    await story_client.approve_plan(plan.id, idempotency_key=f"approve-{name}")
    return str(plan.id)


async def test_a_rolling_update_under_a_flow_of_slow_durable_commands(
    bridge_process: Any, nc: NatsClient, outcomes: Outcomes, sandbox: Any, story_client: Any
) -> None:
    timeline = Timeline()
    await nc.subscribe(SUBJECTS.event(">"), cb=timeline.on_msg)
    plans = [await _approved_plan(story_client, f"roll-{i}") for i in range(3)]
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects", "method": "POST", "latency_ms": 1000}]
    )
    old = bridge_process(**ROLL_ENV)
    js = nc.jetstream()

    async def publish(command: str, body: dict[str, Any]) -> None:
        timeline.sent[body["commandId"]] = time.monotonic()
        await js.publish(SUBJECTS.command(command), json.dumps(body).encode())

    creates = [f"roll-{i:02d}" for i in range(40)]
    jobs = [f"roll-job-{i}" for i in range(len(plans))]
    for i, cid in enumerate(creates):
        await publish("project.create", {"name": cid, "commandId": cid})
        if i < len(plans):
            await publish("job.create", {"storyPlanId": plans[i], "commandId": jobs[i]})
        if i == 12:
            # The Deployment's way: the new one first, then SIGTERM to the old one.
            await asyncio.to_thread(bridge_process, **ROLL_ENV)
            stopped = asyncio.create_task(asyncio.to_thread(old.terminate, 60))
        await asyncio.sleep(0.15)
    assert await stopped == 0

    await until(lambda: all(cid in timeline.done for cid in creates + jobs), limit=90)
    late = {
        cid: round(timeline.done[cid] - timeline.sent[cid], 2)
        for cid in creates + jobs
        if timeline.done[cid] - timeline.sent[cid] > OUTCOME_BOUND_SECONDS
    }
    assert not late, late
    for cid in creates + jobs:
        finals = outcomes.for_command(cid)
        assert finals and all(o["ok"] for o in finals), (cid, finals)
    entries = requests_of(sandbox)
    effects = Counter(
        e["idempotencyKey"]
        for e in entries
        if e["method"] == "POST"
        and e["path"] in ("/story-projects", "/story-jobs")
        and e["status"] == 200
        and not e["replayed"]
        and e["idempotencyKey"] is not None
        and not e["idempotencyKey"].startswith("p-roll")
    )
    assert len(effects) == len(creates) + len(jobs) and set(effects.values()) == {1}, effects
    job_ids = [o["result"]["job"]["id"] for cid in jobs for o in outcomes.for_command(cid)[:1]]
    await until(lambda: all(timeline.ready[j] >= 1 for j in job_ids), limit=120)
    await asyncio.sleep(2)  # a duplicate would follow within a poll or two
    assert all(timeline.ready[j] == 1 for j in job_ids), timeline.ready
    assert "storybridge stopped" in old.log_text()


async def test_commands_reaching_a_stopping_replica_are_handed_back_at_once(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """A stopping replica finishing slow commands keeps its subscription meanwhile, and a fetch
    may still be open at the server (a pull lingers up to its expiry): what it brings after the
    stop began is nak'ed at once, so the other replica runs it in seconds, not after the 30 s ack
    wait."""
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects", "method": "POST", "latency_ms": 2000}]
    )
    first = await start_bridge(ack_wait_seconds=30.0, max_in_flight=4)
    await start_bridge(ack_wait_seconds=30.0, max_in_flight=16)
    assert first.intake is not None
    js = nc.jetstream()

    async def publish(cid: str) -> None:
        await js.publish(
            SUBJECTS.command("project.create"), json.dumps({"name": cid, "commandId": cid}).encode()
        )

    for i in range(4):
        await publish(f"busy-{i}")
    await until(lambda: bool(first.intake and first.intake.lanes[0].inflight))
    stopping = asyncio.create_task(first.intake.stop(grace=10.0))
    await asyncio.sleep(0.05)
    ids = [f"late-{i}" for i in range(10)]
    sent = time.monotonic()
    for cid in ids:
        await publish(cid)
        await asyncio.sleep(0.05)
    for cid in ids:
        await outcomes.wait_for(cid, timeout=60)
    assert time.monotonic() - sent < 15.0
    await stopping
