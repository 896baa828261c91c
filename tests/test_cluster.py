"""On a 3-node NATS cluster with R3 streams, losing the streams' leader loses and doubles nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from bridge.names import COMMANDS_STREAM, EVENTS_STREAM, WATCHES_BUCKET, Subjects
from bridge.nats.streams import declare
from bridge.runtime import Bridge
from bridge.sandboxes.story import StorySandboxConfig
from tests.fixtures.bridge import bridge_settings
from tests.fixtures.cluster import NatsCluster, connect, wait_for_jetstream
from tests.fixtures.sandbox import JOB_DONE, PLAN_DONE, TARGET
from tests.fixtures.waiting import until

pytestmark = pytest.mark.slow
SUBJECTS = Subjects("story")
COMMANDS_DURING_OUTAGE = 10


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    """The job moves only when the test moves time: it is RUNNING when the leader dies."""
    return StorySandboxConfig(
        manual_clock=True, rate_limit_per_minute=100_000, initial_credits=100_000
    )


async def request(nc: NatsClient, command: str, body: dict[str, Any]) -> dict[str, Any]:
    """Request/reply as a careful caller does on a cluster: a lost request is sent again with the
    same commandId (so the API replays it), until answered."""
    body = {"commandId": f"c-{uuid.uuid4()}", **body}
    for _ in range(20):
        try:
            reply = await nc.request(SUBJECTS.request(command), json.dumps(body).encode(), 10)
        except (NatsTimeoutError, NoRespondersError):
            await asyncio.sleep(0.5)
            continue
        return dict(json.loads(reply.data))
    raise AssertionError(f"{command} never answered")


async def publish_durable(nc: NatsClient, command: str, body: dict[str, Any]) -> str:
    """A durable command, re-published under the same Nats-Msg-Id until the stream acks it."""
    command_id = f"d-{uuid.uuid4()}"
    data = json.dumps({"commandId": command_id, **body}).encode()
    for _ in range(40):
        try:
            await nc.jetstream().publish(
                SUBJECTS.command(command), data, headers={"Nats-Msg-Id": command_id}, timeout=5
            )
        except Exception:
            await asyncio.sleep(0.5)
            continue
        return command_id
    raise AssertionError(f"{command} never accepted by {COMMANDS_STREAM}")


async def stream_events(nc: NatsClient) -> list[tuple[str, dict[str, Any]]]:
    """Everything STORYBRIDGE_EVENTS holds, in stream order, as (subject suffix, CloudEvent)."""
    js = nc.jetstream()
    info = await js.stream_info(EVENTS_STREAM)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(EVENTS_STREAM, seq)
        assert msg.data is not None
        out.append((msg.subject.removeprefix("story.evt."), json.loads(msg.data)))
    return out


async def events_or_empty(nc: NatsClient) -> list[tuple[str, dict[str, Any]]]:
    try:
        return await stream_events(nc)
    except Exception:  # a leader election in progress: ask again
        return []


async def test_killing_the_stream_leader_loses_and_doubles_nothing(
    tmp_path: Path, nats_cluster: NatsCluster, sandbox: Any, sandbox_key: str
) -> None:
    """R3 streams and bucket on 3 nodes (scaled up in place from R1); the events stream's leader node is killed while a job runs
    and commands keep coming: every command is answered, every transition is in the stream once,
    and the same bridge carries on without a restart."""
    nc = await connect(nats_cluster.urls)
    await wait_for_jetstream(nc)
    # As an earlier single-replica deployment left them: the bridge must scale them in place.
    await declare(
        nc.jetstream(),
        SUBJECTS,
        max_command_bytes=1 << 20,
        events_duplicate_window=300,
        ack_wait=5,
        max_deliver=10,
        max_ack_pending=128,
        replicas=1,
    )
    bridge = Bridge(
        bridge_settings(
            nats_cluster.url, sandbox.base_url, sandbox_key, tmp_path / "b0", stream_replicas=3
        )
    )
    await bridge.start()
    try:
        js = nc.jetstream()
        for stream in (COMMANDS_STREAM, EVENTS_STREAM, f"KV_{WATCHES_BUCKET}"):
            info = await js.stream_info(stream)
            assert info.config.num_replicas == 3, stream
            assert info.cluster is not None and len(info.cluster.replicas or []) == 2, stream

        project = await request(nc, "project.create", {"name": "cluster"})
        project_id = project["result"]["project"]["id"]
        plan = await request(
            nc,
            "plan.create",
            {
                "projectId": project_id,
                "target": TARGET,
                "artifactRequests": [{"type": "table_read"}],
            },
        )
        plan_id = plan["result"]["plan"]["id"]
        sandbox.control.post("/clock/advance", json={"seconds": PLAN_DONE})
        await until(
            lambda: _has(nc, "plan.requires_approval"), limit=60, every=0.2
        )  # the plan's watch saw it
        assert (await request(nc, "plan.approve", {"planId": plan_id}))["ok"]
        job_command = await publish_durable(nc, "job.create", {"storyPlanId": plan_id})
        await until(lambda: _has(nc, "job.reserved"), limit=60, every=0.2)  # created and watched
        sandbox.control.post("/clock/advance", json={"seconds": 3})  # RESERVED -> RUNNING
        await until(lambda: _has(nc, "job.running"), limit=60, every=0.2)

        leader = (await js.stream_info(EVENTS_STREAM)).cluster.leader  # type: ignore[union-attr]
        assert leader is not None
        nats_cluster.node(leader).kill()

        # Commands keep arriving on both paths while the cluster elects new leaders.
        answered = await asyncio.gather(
            *(request(nc, "project.create", {"name": f"r{i}"}) for i in range(10))
        )
        durable = [
            await publish_durable(nc, "project.create", {"name": f"d{i}"})
            for i in range(COMMANDS_DURING_OUTAGE)
        ]
        sandbox.control.post("/clock/advance", json={"seconds": JOB_DONE})  # the job goes READY
        await until(lambda: _has(nc, "job.ready"), limit=90, every=0.5)

        def outcome_ids(events: list[tuple[str, dict[str, Any]]]) -> set[str]:
            return {e["data"]["commandId"] for s, e in events if s.startswith("command.")}

        async def every_durable_outcome() -> bool:
            return set(durable) | {job_command} <= outcome_ids(await events_or_empty(nc))

        await until(every_durable_outcome, limit=90, every=0.5)

        assert all(outcome["ok"] for outcome in answered)
        events = await stream_events(nc)
        ids = Counter(e["id"] for _, e in events)
        assert [i for i, n in ids.items() if n > 1] == [], "no CloudEvent id twice in the stream"
        transitions = Counter(
            (s, e["data"]["id"]) for s, e in events if not s.startswith("command.")
        )
        assert [t for t, n in transitions.items() if n > 1] == [], "no transition twice"
        job_id = next(e["data"]["id"] for s, e in events if s == "job.running")
        job_statuses = [s for s, e in events if s.startswith("job.") and e["data"]["id"] == job_id]
        assert job_statuses[-2:] == ["job.running", "job.ready"]
        assert any(s == "artifact.ready" for s, _ in events), "the job's artifact was followed"
        ready, checks = await bridge.ready()
        assert ready, checks
    finally:
        await bridge.stop()
        await nc.close()


async def _has(nc: NatsClient, suffix: str) -> bool:
    try:
        await nc.jetstream().get_last_msg(EVENTS_STREAM, SUBJECTS.event(suffix))
    except Exception:
        return False
    return True
