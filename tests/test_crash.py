"""kill -9 at the worst moments: no second effect on the API, no lost or duplicated event.

One command killed between the API's effect and its ack is shared by every provider:
tests/capabilities/test_crash.py."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tests.fixtures.bridge import SUBJECTS, Outcomes
from tests.fixtures.requestlog import requests_of
from tests.fixtures.waiting import until, watch_settled

pytestmark = pytest.mark.slow


def _posts(sandbox: Any, path: str) -> list[dict[str, Any]]:
    log = requests_of(sandbox)
    return [e for e in log if e["method"] == "POST" and e["path"] == path]


def _list_projects(sandbox: Any) -> list[dict[str, Any]]:
    import httpx

    from tests.fixtures.sandbox import any_key

    reply = httpx.get(
        f"{sandbox.base_url}/story-projects?limit=100",
        headers={"Authorization": f"Bearer {any_key()}"},
    )
    return list(reply.json()["projects"])


class EventLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any], str | None]] = []

    async def on_msg(self, msg: Msg) -> None:
        self.events.append(
            (msg.subject, json.loads(msg.data), (msg.headers or {}).get("Nats-Msg-Id"))
        )

    def subjects_for(self, resource_id: str) -> list[str]:
        return [s for s, e, _ in self.events if (e.get("data") or {}).get("id") == resource_id]


async def test_job_ready_while_bridge_is_down_is_published_once(
    bridge_process: Any, nc: NatsClient, outcomes: Outcomes, sandbox: Any, story_client: Any
) -> None:
    """Kill the bridge while a job runs, let it reach READY, restart: one job.ready, no id twice."""
    events = EventLog()
    await nc.subscribe(SUBJECTS.event(">"), cb=events.on_msg)
    first = bridge_process()

    project = (await story_client.create_project({"name": "down-time"}, idempotency_key="k-p")).data
    plan = (
        await story_client.create_plan(
            project.id,
            {
                "target": {"audience": "a", "objective": "o", "outcome": "x"},
                "artifactRequests": [{"type": "table_read"}],
            },
            idempotency_key="k-plan",
        )
    ).data
    await until(lambda: _status(story_client.get_plan(plan.id), "REQUIRES_APPROVAL"))
    await story_client.approve_plan(plan.id, idempotency_key="k-approve")

    reply = await nc.request(
        SUBJECTS.request("job.create"),
        json.dumps({"storyPlanId": plan.id, "commandId": "down-job"}).encode(),
        timeout=30,
    )
    job_id = json.loads(reply.data)["result"]["job"]["id"]
    await until(lambda: any(s.startswith("story.evt.job.") for s in events.subjects_for(job_id)))
    first.kill()

    await until(lambda: _status(story_client.get_job(job_id), "READY"))
    bridge_process()
    await until(lambda: "story.evt.job.ready" in events.subjects_for(job_id), limit=60)
    await watch_settled(nc.jetstream(), "story", "job", job_id)  # nothing more can follow

    job_subjects = [s for s in events.subjects_for(job_id) if s.startswith("story.evt.job.")]
    assert job_subjects.count("story.evt.job.ready") == 1
    ids = [msg_id for _, _, msg_id in events.events]
    assert len(ids) == len(set(ids)), "an event id was published twice"
    stream = await nc.jetstream().stream_info("STORYBRIDGE_EVENTS")
    assert stream.state.messages == len(events.events)


async def _status(coro: Any, status: str) -> bool:
    return bool((await coro).data.status == status)


async def test_forty_durable_commands_through_a_bridge_killed_every_few_seconds(
    bridge_process: Any, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """40 durable commands while the only replica is SIGKILLed and restarted every 2 s, each kill
    landing while commands are held at the API: every commandId takes effect once (one project,
    one Idempotency-Key), every one ends in command.succeeded, and nothing is left pending."""
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects", "method": "POST", "hold_ms": 1500}]
    )
    proc = bridge_process(STORYBRIDGE_MAX_IN_FLIGHT="8")
    ids = [f"kill-{i:02d}" for i in range(40)]
    js = nc.jetstream()
    for cid in ids:
        await js.publish(
            SUBJECTS.command("project.create"), json.dumps({"name": cid, "commandId": cid}).encode()
        )

    def finished() -> bool:
        return all(any(o["ok"] for o in outcomes.for_command(cid)) for cid in ids)

    kills = 0
    while not finished() and kills < 6:
        await asyncio.sleep(2.0)
        proc.kill()
        kills += 1
        proc = bridge_process(STORYBRIDGE_MAX_IN_FLIGHT="8")
    assert kills >= 3  # the kills really landed mid-run
    await until(finished, limit=120)

    posts = _posts(sandbox, "/story-projects")
    names = [p["name"] for p in _list_projects(sandbox)]
    for cid in ids:
        assert names.count(cid) == 1, cid
    by_key: dict[str, int] = {}
    for post in posts:
        by_key[post["idempotencyKey"]] = by_key.get(post["idempotencyKey"], 0) + 1
    assert len(by_key) == 40  # one key per commandId, whatever was re-sent
    assert len(posts) > 40  # and some were re-sent: kills landed while commands were at the API

    async def drained() -> bool:
        stream = await js.stream_info("STORYBRIDGE_COMMANDS")
        consumer = await js.consumer_info("STORYBRIDGE_COMMANDS", "storybridge")
        return (stream.state.messages, consumer.num_pending, consumer.num_ack_pending) == (0, 0, 0)

    deadline = time.monotonic() + 60
    while not await drained():
        assert time.monotonic() < deadline, "commands left in the stream"
        await asyncio.sleep(0.2)
