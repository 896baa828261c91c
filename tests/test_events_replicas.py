"""Replicas share watches; a crashed replica's watches are taken over with nothing lost or doubled."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from bridge.sandboxes.story import StorySandboxConfig
from tests.fixtures.bridge import SUBJECTS, Recorder, StartBridge
from tests.fixtures.waiting import watch_settled

LEASE_SECONDS = 2.0
TAKE_OVER_BOUND = 30.0


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    """Jobs stay RUNNING until the test moves time, i.e. until after the crash."""
    return StorySandboxConfig(
        manual_clock=True, rate_limit_per_minute=100_000, initial_credits=100_000
    )


async def _approved_plan(story_client: Any, sandbox: Any) -> tuple[str, str]:
    project = (await story_client.create_project({"name": "replicas"}, idempotency_key="rp")).data
    plan = (
        await story_client.create_plan(
            project.id,
            {
                "target": {"audience": "a", "objective": "o", "outcome": "x"},
                "artifactRequests": [{"type": "table_read"}],
            },
            idempotency_key="rplan",
        )
    ).data
    sandbox.control.post("/clock/advance", json={"seconds": 60})
    await story_client.approve_plan(plan.id, idempotency_key="rapprove")
    return project.id, plan.id


async def test_two_replicas_publish_every_transition_once_and_take_over_a_crash(
    start_bridge: StartBridge, nc: NatsClient, story_client: Any, sandbox: Any
) -> None:
    """200 watched jobs over two replicas; one crashes (leases kept): every job.ready exactly once."""
    first = await start_bridge(watch_lease_seconds=LEASE_SECONDS)
    await start_bridge(watch_lease_seconds=LEASE_SECONDS)
    recorder = Recorder()
    # Read what STORYBRIDGE_EVENTS holds, as the contract's consumers do: an outbox re-publish
    # during hand-over reaches core subscribers twice, but the stream dedups it by Nats-Msg-Id.
    await nc.jetstream().subscribe(
        SUBJECTS.event("job.>"), cb=recorder.on_msg, ordered_consumer=True
    )

    project_id, plan_id = await _approved_plan(story_client, sandbox)
    jobs = [
        (await story_client.create_job({"storyPlanId": plan_id}, idempotency_key=f"rj{i}")).data.id
        for i in range(200)
    ]
    for job_id in jobs:
        reply = await nc.request(
            SUBJECTS.request("watch.add"),
            json.dumps({"resource": "job", "id": job_id, "projectId": project_id}).encode(),
            timeout=10,
        )
        assert json.loads(reply.data)["ok"]
    sandbox.control.post("/clock/advance", json={"seconds": 5})  # every job RUNNING

    def seen(status: str) -> list[str]:
        return [
            json.loads(m.data)["data"]["id"]
            for m in recorder.messages
            if m.subject.endswith(f".job.{status}")
        ]

    assert await recorder.wait_for(lambda: set(seen("running")) >= set(jobs), timeout=60)
    assert first.engine is not None
    await first.engine.stop(release=False)  # a crash: its shard leases stay until they expire
    await first.stop()
    crashed_at = time.monotonic()
    sandbox.control.post("/clock/advance", json={"seconds": 120})  # every job READY

    await recorder.wait_for(lambda: set(seen("ready")) >= set(jobs), timeout=TAKE_OVER_BOUND)
    took = time.monotonic() - crashed_at
    for job in jobs:  # every record finished with an empty outbox: nothing more can follow
        await watch_settled(nc.jetstream(), "story", "job", job)

    assert took < TAKE_OVER_BOUND
    assert sorted(seen("ready")) == sorted(jobs), "every job.ready exactly once"
    assert sorted(seen("running")) == sorted(jobs), "every job.running exactly once"
    ids = [m.headers["Nats-Msg-Id"] for m in recorder.messages if m.headers]
    assert len(ids) == len(set(ids))
