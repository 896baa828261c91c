"""Watch lifecycle through a whole bridge, the sandbox over HTTP and a real nats-server: a 404 is
not the end, gone and expired end a watch with one event, stalls recover, made-up ids are refused,
and a resource followed by several watches publishes each transition once (past the duplicate
window too)."""

from __future__ import annotations

import asyncio
import json
from itertools import pairwise
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import DeliverPolicy

from bridge.names import EVENTS_STREAM
from bridge.sandboxes.story import StorySandboxConfig
from tests.fixtures.bridge import Outcomes, StartBridge, send
from tests.fixtures.waiting import until

TARGET = {"audience": "buyers", "objective": "explain", "outcome": "demo"}


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    # Slow enough that a job is seen running before it is ready, fast enough for a test.
    return StorySandboxConfig(speed=20.0, rate_limit_per_minute=100_000)


async def stream_events(nc: NatsClient) -> list[dict[str, Any]]:
    """Every event in STORYBRIDGE_EVENTS, as the contract's consumers read them."""
    js = nc.jetstream()
    if not (await js.stream_info(EVENTS_STREAM)).state.messages:
        return []
    sub = await js.subscribe("story.evt.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    out = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.3)
            except TimeoutError:
                break
            out.append(json.loads(msg.data))
    finally:
        await sub.unsubscribe()
    return out


async def of(nc: NatsClient, id: str, facet: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in await stream_events(nc)
        if e["data"].get("id") == id
        and e["data"].get("facet") == facet
        and ".watch." not in e["type"]
    ]


async def watch_events(nc: NatsClient, name: str, id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in await stream_events(nc)
        if e["type"].endswith(f".watch.{name}") and e["data"]["id"] == id
    ]


async def approved_plan(nc: NatsClient, outcomes: Outcomes) -> tuple[str, str]:
    project = (await ok(nc, outcomes, "project.create", {"name": "lifecycle"}))["project"]["id"]
    plan = (
        await ok(
            nc,
            outcomes,
            "plan.create",
            {"projectId": project, "target": TARGET, "artifactRequests": [{"type": "table_read"}]},
        )
    )["plan"]["id"]
    await until(lambda: _has(nc, plan, "requires_approval"), limit=60)
    await ok(nc, outcomes, "plan.approve", {"planId": plan})
    return project, plan


async def ok(nc: NatsClient, outcomes: Outcomes, command: str, payload: dict[str, Any]) -> Any:
    outcome = await send(nc, outcomes, "request", command, payload)
    assert outcome["ok"] is True, outcome
    return outcome["result"]


async def test_a_job_answering_one_bare_404_then_ready_publishes_job_ready(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    await start_bridge()
    _, plan = await approved_plan(nc, outcomes)
    sandbox.control.put(
        "/faults",
        json=[{"path": "/story-jobs/*", "method": "GET", "status": 404, "bare": True, "times": 1}],
    ).raise_for_status()
    job = (await ok(nc, outcomes, "job.create", {"storyPlanId": plan}))["job"]["id"]
    await until(lambda: _has(nc, job, "ready"), limit=60)
    assert sandbox.control.get("/faults").json()["faults"]  # the rule was in force
    log = sandbox.control.get("/requests", params={"path": f"/story-jobs/{job}"}).json()
    assert log["requests"][0]["status"] == 404
    assert not await watch_events(nc, "gone", job)


async def test_watch_add_of_a_made_up_id_answers_the_apis_not_found(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes
) -> None:
    await start_bridge()
    outcome = await send(
        nc, outcomes, "request", "watch.add", {"resource": "job", "id": "cmj_madeup"}
    )
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "story_job_not_found"
    assert outcome["error"]["status"] == 404
    listed = await ok(nc, outcomes, "admin.watches", {"resource": "job"})
    assert "cmj_madeup" not in [w["id"] for w in listed["watches"]]


async def test_a_plan_left_waiting_past_its_max_age_yields_one_watch_expired(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes
) -> None:
    """A plan at REQUIRES_APPROVAL is followed (nothing approves it): it ends by age."""
    await start_bridge(watch_max_age_seconds=3.0)
    project = (await ok(nc, outcomes, "project.create", {"name": "old"}))["project"]["id"]
    plan = (
        await ok(
            nc,
            outcomes,
            "plan.create",
            {"projectId": project, "target": TARGET, "artifactRequests": [{"type": "table_read"}]},
        )
    )["plan"]["id"]
    await until(lambda: watch_events(nc, "expired", plan), limit=60)
    listed = await ok(nc, outcomes, "admin.watches", {"resource": "plan", "state": "done"})
    (mine,) = [w for w in listed["watches"] if w["id"] == plan]
    assert mine["doneReason"] == "expired"
    assert len(await watch_events(nc, "expired", plan)) == 1


async def test_a_stalled_watch_that_reads_again_yields_one_watch_recovered(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    await start_bridge(stall_after_failures=2)
    _, plan = await approved_plan(nc, outcomes)
    # 400 is definitive: one failed read each, no retries inside the client.
    sandbox.control.put(
        "/faults",
        json=[{"path": "/story-jobs/*", "method": "GET", "status": 400, "times": 4}],
    ).raise_for_status()
    job = (await ok(nc, outcomes, "job.create", {"storyPlanId": plan}))["job"]["id"]
    await until(lambda: _has(nc, job, "ready"), limit=60)
    assert len(await watch_events(nc, "stalled", job)) == 1
    assert len(await watch_events(nc, "recovered", job)) == 1


async def test_admin_watches_filters_by_state_and_pages_with_a_cursor(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    await start_bridge(watch_max_age_seconds=3600.0)
    project = (await ok(nc, outcomes, "project.create", {"name": "listed"}))["project"]["id"]
    plans = []
    for _ in range(5):
        body = {
            "projectId": project,
            "target": TARGET,
            "artifactRequests": [{"type": "table_read"}],
        }
        plans.append((await ok(nc, outcomes, "plan.create", body))["plan"]["id"])
    seen: list[str] = []
    cursor = None
    while True:
        page = await ok(
            nc,
            outcomes,
            "admin.watches",
            {
                "provider": "story",
                "resource": "plan",
                "limit": 2,
                **({"cursor": cursor} if cursor else {}),
            },
        )
        assert len(page["watches"]) <= 2
        seen.extend(w["id"] for w in page["watches"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(plans)
    assert all(
        w["state"] == "active"
        for w in (await ok(nc, outcomes, "admin.watches", {"state": "active"}))["watches"]
    )
    none_stalled = await ok(nc, outcomes, "admin.watches", {"state": "stalled"})
    assert none_stalled == {"watches": [], "nextCursor": None}
    bad = await send(nc, outcomes, "request", "admin.watches", {"state": "sleeping"})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_command"


@pytest.mark.slow
async def test_a_job_deleted_for_good_yields_one_watch_gone(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, story_client: Any
) -> None:
    """Deleting the project makes its job answer 404: three reads over at least a minute later,
    one watch.gone, and the watch is done."""
    await start_bridge()
    project, plan = await approved_plan(nc, outcomes)
    job = (await ok(nc, outcomes, "job.create", {"storyPlanId": plan}))["job"]["id"]
    await until(lambda: _has(nc, job, "running"), limit=60)
    await story_client.delete_project(project, idempotency_key="lifecycle-delete")
    gone = await until(lambda: watch_events(nc, "gone", job), limit=180)
    assert len(gone) == 1
    assert gone[0]["data"]["notFound"] >= 3


@pytest.mark.slow
async def test_a_refined_artifact_also_added_by_hand_has_every_transition_once_past_the_window(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes
) -> None:
    """The artifact of a watched job is also `watch.add`ed while the job runs, then refined after
    it is ready and once more after the duplicate window (at its 120 s minimum) has passed: in the
    stream every transition of the artifact is there once, ids unique, previousStatus unbroken."""
    await start_bridge(events_duplicate_window_seconds=120.0)
    _, plan = await approved_plan(nc, outcomes)
    job = (await ok(nc, outcomes, "job.create", {"storyPlanId": plan}))["job"]["id"]
    artifact = await until(lambda: _first_artifact(nc, job), limit=60)
    await ok(nc, outcomes, "watch.add", {"resource": "artifact", "id": artifact})
    await until(lambda: _has(nc, job, "ready"), limit=60)
    await until(lambda: _has(nc, artifact, "ready"), limit=60)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await ok(nc, outcomes, "artifact.refine", {"artifactId": artifact, "instruction": "warmer"})
    await until(lambda: _revisions(nc, artifact, 2), limit=60)
    # Past the duplicate window, refine again: a third overlapping watch of the same artifact.
    await until(lambda: loop.time() - started > 125, limit=200, every=1.0)
    await ok(nc, outcomes, "artifact.refine", {"artifactId": artifact, "instruction": "shorter"})
    await until(lambda: _revisions(nc, artifact, 3), limit=60)
    await until(lambda: _status_is(nc, artifact, "ready"), limit=60)

    events = await stream_events(nc)
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))
    chain = await of(nc, artifact)
    assert chain[0]["data"]["previousStatus"] is None
    for before, after in pairwise(chain):
        assert after["data"]["previousStatus"] == before["data"]["status"], chain
    # The first generation, then each refine (RUNNING again at the old revision, READY at the new
    # one): each transition exactly once, none lost, none doubled by the overlapping watches.
    transitions = [(e["data"]["status"], e["data"]["revision"]) for e in chain]
    assert transitions == [
        ("running", 1),
        ("ready", 1),
        ("running", 1),
        ("ready", 2),
        ("running", 2),
        ("ready", 3),
    ]
    revised = await of(nc, artifact, "revised")
    assert [e["data"]["revision"] for e in revised] == [2, 3]


async def _has(nc: NatsClient, id: str, status: str) -> bool:
    return status in [e["data"]["status"] for e in await of(nc, id)]


async def _status_is(nc: NatsClient, id: str, status: str) -> bool:
    got = await of(nc, id)
    return bool(got) and got[-1]["data"]["status"] == status


async def _revisions(nc: NatsClient, id: str, revision: int) -> bool:
    return any(e["data"]["revision"] == revision for e in await of(nc, id, "revised"))


async def _first_artifact(nc: NatsClient, job: str) -> str | None:
    for event in await of(nc, job):
        for art in event["data"]["snapshot"].get("artifacts") or []:
            return str(art["id"])
    return None
