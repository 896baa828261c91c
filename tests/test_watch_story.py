"""The Story provider end to end: the real sandbox over HTTP, a real nats-server, tiny intervals."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cloudevents.core.formats.json import JSONFormat
from nats.js.api import DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from bridge.names import EVENTS_STREAM, Subjects
from bridge.providers.story.watch.provider import StoryProvider
from bridge.watch import WatchEngine, WatchSettings, WatchSpec
from tests.fixtures.requestlog import requests_of
from tests.fixtures.waiting import until

SUBJECTS = Subjects("story")


@pytest.fixture
async def engine(
    js: JetStreamContext, kv: KeyValue, story_client: Any, sandbox: Any
) -> AsyncIterator[WatchEngine]:
    provider = StoryProvider(story_client, base_url=sandbox.base_url)
    settings = WatchSettings(interval_scale=0.01, stall_after=3, lease_seconds=5.0, jitter=0.0)
    eng = WatchEngine(js, kv, {"story": provider}, SUBJECTS, settings)
    await eng.start()
    yield eng
    await eng.stop()


def key() -> str:
    return str(uuid.uuid4())


async def events(js: JetStreamContext) -> list[dict[str, Any]]:
    info = await js.stream_info(EVENTS_STREAM)
    if not info.state.messages:
        return []
    sub = await js.subscribe("story.evt.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    out: list[dict[str, Any]] = []
    try:
        while len(out) < info.state.messages:
            msg = await sub.next_msg(timeout=2)
            assert msg.headers is not None
            assert msg.headers["Content-Type"] == "application/cloudevents+json"
            doc = json.loads(msg.data)
            assert msg.headers["Nats-Msg-Id"] == doc["id"]
            out.append({**doc, "_subject": msg.subject})
    finally:
        await sub.unsubscribe()
    return out


def of(evts: list[dict[str, Any]], resource_id: str, facet: str | None = None) -> list[str]:
    """The statuses published for one resource (+facet), in order."""
    return [
        e["data"]["status"]
        for e in evts
        if e["data"].get("id") == resource_id
        and e["data"].get("facet") == facet
        and "status" in e["data"]
    ]


def assert_valid(evts: list[dict[str, Any]]) -> None:
    """Every event is a CloudEvents 1.0 document (SDK-checked) and ids are unique."""
    for doc in evts:
        body = {k: v for k, v in doc.items() if k != "_subject"}
        parsed = JSONFormat().read(None, json.dumps(body).encode())
        assert parsed.get_specversion() == "1.0"
    assert len({e["id"] for e in evts}) == len(evts)


def assert_chained(evts: list[dict[str, Any]], resource_id: str, facet: str | None = None) -> None:
    mine = [
        e["data"]
        for e in evts
        if e["data"].get("id") == resource_id
        and e["data"].get("facet") == facet
        and "status" in e["data"]
    ]
    previous = [d["previousStatus"] for d in mine]
    assert previous == [None, *[d["status"] for d in mine[:-1]]]


# -- scenario helpers (through the real client) ----------------------------------------------------


async def project(client: Any) -> str:
    resp = await client.create_project({"name": "watch test"}, idempotency_key=key())
    return str(resp.raw["project"]["id"])


async def text_source(client: Any, project_id: str) -> str:
    body = {"type": "text", "content": "A story about a lighthouse keeper. " * 20, "label": "t"}
    resp = await client.create_source(project_id, body, idempotency_key=key())
    return str(resp.raw["source"]["id"])


async def plan(client: Any, project_id: str, source_id: str) -> str:
    body = {
        "target": {"audience": "listeners", "objective": "entertain", "outcome": "subscribe"},
        "artifactRequests": [{"type": "table_read"}],
        "sourceIds": [source_id],
    }
    resp = await client.create_plan(project_id, body, idempotency_key=key())
    return str(resp.raw["plan"]["id"])


async def plan_status(client: Any, plan_id: str) -> str:
    return str((await client.get_plan(plan_id)).raw["plan"]["status"])


async def approved_plan(client: Any) -> tuple[str, str]:
    pid = await project(client)
    plan_id = await plan(client, pid, await text_source(client, pid))
    await until(lambda: _is(client, plan_id, "REQUIRES_APPROVAL"))
    await client.approve_plan(plan_id, idempotency_key=key())
    return pid, plan_id


async def _is(client: Any, plan_id: str, status: str) -> bool:
    return await plan_status(client, plan_id) == status


def spec(kind: str, id: str, facets: tuple[str, ...] | None = None, **parents: str) -> WatchSpec:
    return WatchSpec(provider="story", resource=kind, id=id, parents=parents, facets=facets)


# -- scenarios ------------------------------------------------------------------------------------


async def test_job_watched_to_ready_publishes_job_then_artifact_events_in_order(
    engine: WatchEngine, story_client: Any, js: JetStreamContext
) -> None:
    """RESERVED -> RUNNING -> READY, then the artifact's own statuses, each once, chained."""
    pid, plan_id = await approved_plan(story_client)
    resp = await story_client.create_job({"storyPlanId": plan_id}, idempotency_key=key())
    job_id = str(resp.raw["job"]["id"])
    await engine.add(spec("job", job_id, projectId=pid))
    await until(lambda: engine.stats().active == 0, limit=60)
    evts = await events(js)
    assert_valid(evts)
    job_statuses = of(evts, job_id)
    assert job_statuses[-1] == "ready"
    assert "running" in job_statuses
    assert len(job_statuses) == len(set(job_statuses))
    assert_chained(evts, job_id)
    artifact_ids = {e["data"]["id"] for e in evts if e["data"]["resource"] == "artifact"}
    assert artifact_ids
    for art in artifact_ids:
        assert of(evts, art)[-1] == "ready"
        assert_chained(evts, art)
    first = next(e for e in evts if e["data"]["id"] == job_id)
    assert first["_subject"] == f"story.evt.job.{job_statuses[0]}"
    assert first["subject"] == f"story-jobs/{job_id}"
    assert first["type"] == f"studio.sleeperhit.story.job.{job_statuses[0]}"
    assert first["data"]["projectId"] == pid
    assert first["data"]["snapshot"]["id"] == job_id


async def test_jobs_of_one_project_are_read_by_listing_the_project(
    engine: WatchEngine, story_client: Any, sandbox: Any, js: JetStreamContext
) -> None:
    """Three watched jobs of one project cost one `GET /story-jobs?projectId=` per poll, not a GET
    per job, and every job and artifact event still arrives."""
    pid, plan_id = await approved_plan(story_client)
    jobs = [
        str(
            (await story_client.create_job({"storyPlanId": plan_id}, idempotency_key=key())).raw[
                "job"
            ]["id"]
        )
        for _ in range(3)
    ]
    sandbox.control.delete("/requests")
    for job_id in jobs:
        await engine.add(spec("job", job_id, projectId=pid))
    await until(lambda: engine.stats().active == 0, limit=60)
    log = sandbox.control.get("/requests", params={"path": "/story-jobs*"}).json()["requests"]
    paths = [r["path"] for r in log if r["method"] == "GET"]
    # A watch's very first read may be its own (its companions were not added yet); after that
    # the project's listing serves all three.
    assert all(paths.count(f"/story-jobs/{job_id}") <= 1 for job_id in jobs), paths
    assert paths.count("/story-jobs") >= 2, paths
    evts = await events(js)
    for job_id in jobs:
        assert of(evts, job_id)[-1] == "ready"
    artifacts = {e["data"]["id"] for e in evts if e["data"]["resource"] == "artifact"}
    assert len(artifacts) == len(jobs)


async def test_plan_is_followed_through_requires_approval_to_approved(
    engine: WatchEngine, story_client: Any, js: JetStreamContext
) -> None:
    """plan.requires_approval is published; the approval after it is published too."""
    pid = await project(story_client)
    plan_id = await plan(story_client, pid, await text_source(story_client, pid))
    await engine.add(spec("plan", plan_id, projectId=pid))
    await until(lambda: _published(js, plan_id, "requires_approval"), limit=60)
    await story_client.approve_plan(plan_id, idempotency_key=key())
    await until(lambda: _published(js, plan_id, "approved"), limit=60)
    evts = await events(js)
    assert_valid(evts)
    assert of(evts, plan_id)[-2:] == ["requires_approval", "approved"]
    assert_chained(evts, plan_id)


async def test_url_source_and_its_digest_are_published(
    engine: WatchEngine, story_client: Any, js: JetStreamContext
) -> None:
    """A url source goes to READY (source.*) and its digest events go to source.digest.*."""
    pid = await project(story_client)
    body = {"type": "url", "uri": "https://example.com/article", "label": "u"}
    resp = await story_client.create_source(pid, body, idempotency_key=key())
    source_id = str(resp.raw["source"]["id"])
    await engine.add(spec("source", source_id, projectId=pid))
    await until(lambda: _published(js, source_id, "ready"), limit=60)
    await plan(story_client, pid, source_id)  # planning digests the source
    await engine.add(spec("source", source_id, projectId=pid))
    await until(lambda: _published(js, source_id, "ready", facet="digest"), limit=60)
    evts = await events(js)
    assert_valid(evts)
    assert of(evts, source_id)[-1] == "ready"
    digest = [e for e in evts if e["data"].get("facet") == "digest"]
    assert all(e["_subject"].startswith("story.evt.source.digest.") for e in digest)
    assert digest[0]["subject"] == f"story-projects/{pid}/sources/{source_id}"
    assert_chained(evts, source_id, "digest")


async def test_unreadable_resource_publishes_one_stalled_event_then_recovers(
    engine: WatchEngine, story_client: Any, sandbox: Any, js: JetStreamContext
) -> None:
    """500s on the job path: exactly one watch.stalled, then events resume after the fault."""
    _, plan_id = await approved_plan(story_client)
    resp = await story_client.create_job({"storyPlanId": plan_id}, idempotency_key=key())
    job_id = str(resp.raw["job"]["id"])
    set_faults(sandbox, [{"path": f"/story-jobs/{job_id}", "status": 500, "error_rate": 1.0}])
    await engine.add(spec("job", job_id))
    await until(lambda: _stalled(js), limit=60)
    set_faults(sandbox, [])
    await until(lambda: engine.stats().active == 0, limit=60)
    evts = await events(js)
    assert_valid(evts)
    stalled = [e for e in evts if e["type"] == "studio.sleeperhit.story.watch.stalled"]
    assert len(stalled) == 1
    assert stalled[0]["data"]["id"] == job_id
    assert stalled[0]["data"]["failures"] >= 3
    assert of(evts, job_id)[-1] == "ready"


async def test_artifact_finalize_facet_is_published_until_complete(
    engine: WatchEngine, story_client: Any, js: JetStreamContext
) -> None:
    """finalize(audio) on a ready artifact: artifact.finalize.<stage> events ending at complete."""
    pid, plan_id = await approved_plan(story_client)
    job = await story_client.create_job({"storyPlanId": plan_id}, idempotency_key=key())
    job_id = str(job.raw["job"]["id"])
    await engine.add(spec("job", job_id, projectId=pid))
    await until(lambda: engine.stats().active == 0, limit=60)
    art = next(e["data"]["id"] for e in await events(js) if e["data"]["resource"] == "artifact")
    await story_client.artifact_finalize(art, {"mode": "audio"}, idempotency_key=key())
    await engine.add(spec("artifact", art, ("finalize",)))
    await until(lambda: _published(js, art, "complete", facet="finalize"), limit=60)
    evts = await events(js)
    assert_valid(evts)
    finalize = [e for e in evts if e["data"].get("facet") == "finalize"]
    assert finalize[-1]["_subject"] == "story.evt.artifact.finalize.complete"
    assert finalize[-1]["type"] == "studio.sleeperhit.story.artifact.finalize.complete"
    assert finalize[-1]["subject"] == f"artifacts/{art}"
    assert finalize[-1]["data"]["resource"] == "artifact"
    assert_chained(evts, art, "finalize")


async def test_no_poll_is_sent_during_retry_after_in_a_429_storm(
    engine: WatchEngine, story_client: Any, sandbox: Any, js: JetStreamContext
) -> None:
    """Every 429 answer (Retry-After: 1) is followed by silence on that path for a second."""
    _, plan_id = await approved_plan(story_client)
    job = await story_client.create_job({"storyPlanId": plan_id}, idempotency_key=key())
    job_id = str(job.raw["job"]["id"])
    path = f"/story-jobs/{job_id}"
    set_faults(sandbox, [{"path": path, "storm_429": True, "retry_after": 1, "times": 3}])
    sandbox.control.delete("/requests")
    await engine.add(spec("job", job_id))
    await until(lambda: engine.stats().active == 0, limit=60)
    log = sandbox.control.get("/requests", params={"path": path}).json()["requests"]
    statuses = [r["status"] for r in log]
    assert statuses.count(429) == 3
    assert statuses[-1] == 200
    for before, after in itertools.pairwise(log):
        if before["status"] == 429:
            assert after["time"] - before["time"] >= 0.95
    assert of(await events(js), job_id)[-1] == "ready"


async def test_under_a_429_storm_the_poller_stays_within_its_budget_and_waits_retry_after(
    js: JetStreamContext, kv: KeyValue, story_client: Any, sandbox: Any, sandbox_key: str
) -> None:
    """Twenty watched jobs read one by one through a client with a 30/min budget, while every
    other job read is answered 429 (Retry-After: 1): over the run the poller sends no more than
    its budget, and once a 429 is answered the key is silent for the full Retry-After."""
    from bridge.http.ratelimit import RateBudget
    from bridge.providers.story.client import StoryClient, story_transport
    from tests.fixtures.client import TEST_RETRY, TEST_TIMEOUT

    _, plan_id = await approved_plan(story_client)
    jobs = [
        str(
            (await story_client.create_job({"storyPlanId": plan_id}, idempotency_key=key())).raw[
                "job"
            ]["id"]
        )
        for _ in range(20)
    ]
    budget = 30
    set_faults(
        sandbox,
        [
            {
                "path": "/story-jobs/*",
                "method": "GET",
                "storm_429": True,
                "retry_after": 1,
                "error_rate": 0.5,
            }
        ],
    )
    sandbox.control.delete("/requests")
    async with StoryClient(
        story_transport(
            sandbox.base_url,
            sandbox_key,
            budget=RateBudget(per_minute=budget),
            retry=TEST_RETRY,
            timeout=TEST_TIMEOUT,
        )
    ) as client:
        provider = StoryProvider(client, base_url=sandbox.base_url)
        settings = WatchSettings(interval_scale=0.01, stall_after=100, lease_seconds=5.0)
        eng = WatchEngine(js, kv, {"story": provider}, SUBJECTS, settings)
        await eng.start()
        try:
            for job_id in jobs:
                await eng.add(spec("job", job_id))  # no projectId: single reads
            await asyncio.sleep(8.0)  # well inside one minute: the whole run is one budget window
        finally:
            await eng.stop()
    log = requests_of(sandbox)
    assert 0 < len(log) <= budget, len(log)
    assert any(r["status"] == 429 for r in log)
    # Reads already in flight when a 429 was answered arrive within milliseconds of it (the
    # provider reads up to 8 at once); none may be SENT after the client saw the 429.
    in_flight = 0.3  # generous: a loaded CI machine answers slowly
    for entry in (r for r in log if r["status"] == 429):
        during = [r["time"] for r in log if in_flight < r["time"] - entry["time"] < 0.95]
        assert during == [], (entry, during)


async def test_a_refine_publishes_artifact_revised_once_per_new_version(
    engine: WatchEngine, story_client: Any, js: JetStreamContext
) -> None:
    """The refine job's READY carries currentVersion 2: one artifact.revised event, revision 2."""
    pid, plan_id = await approved_plan(story_client)
    job = await story_client.create_job({"storyPlanId": plan_id}, idempotency_key=key())
    await engine.add(spec("job", str(job.raw["job"]["id"]), projectId=pid))
    await until(lambda: engine.stats().active == 0, limit=60)
    art = next(e["data"]["id"] for e in await events(js) if e["data"]["resource"] == "artifact")
    body = {"instruction": "make the narrator warmer"}
    refine = await story_client.artifact_refine(art, body, idempotency_key=key())
    refine_job = str(refine.raw["storyJob"]["id"])
    await engine.add(spec("job", refine_job, projectId=pid))
    await engine.add(spec("artifact", art, ("revised",)))
    await until(lambda: engine.stats().active == 0, limit=60)
    evts = await events(js)
    assert_valid(evts)
    revised = [e for e in evts if e["_subject"] == "story.evt.artifact.revised"]
    assert len(revised) == 1
    assert revised[0]["data"]["revision"] == 2
    assert revised[0]["type"] == "studio.sleeperhit.story.artifact.revised"


async def test_discovery_watches_unfinished_plans_created_elsewhere(
    js: JetStreamContext, kv: KeyValue, story_client: Any, sandbox: Any
) -> None:
    """With discovery on, a plan nobody asked to watch is found and its changes published."""
    pid = await project(story_client)
    plan_id = await plan(story_client, pid, await text_source(story_client, pid))
    provider = StoryProvider(story_client, base_url=sandbox.base_url)
    settings = WatchSettings(interval_scale=0.01, discovery_interval=0.2, jitter=0.0)
    eng = WatchEngine(js, kv, {"story": provider}, SUBJECTS, settings)
    await eng.start()
    try:
        await until(lambda: _published(js, plan_id, "requires_approval"), limit=60)
    finally:
        await eng.stop()
    key = WatchSpec(provider="story", resource="plan", id=plan_id).key
    record = json.loads((await kv.get(key)).value)
    assert record["spec"]["origin"] == "discovery"


def set_faults(sandbox: Any, faults: list[dict[str, Any]]) -> None:
    resp = sandbox.control.put("/faults", json=faults)
    resp.raise_for_status()


async def _published(js: JetStreamContext, id: str, status: str, facet: str | None = None) -> bool:
    return status in of(await events(js), id, facet)


async def _stalled(js: JetStreamContext) -> bool:
    return any(e["type"].endswith(".watch.stalled") for e in await events(js))


async def test_story_polls_are_paced_by_the_keys_rate_budget(
    sandbox: Any, sandbox_key: str
) -> None:
    """The provider reads its client's live budget: polls get their share of the key's 120/min,
    and what commands use comes off it. Without it the engine polls by floors alone and bursts
    the whole window at once (100 list calls in a second, then a minute of nothing)."""
    from bridge.http.ratelimit import Priority, RateBudget
    from bridge.providers.story.client import StoryClient, story_transport

    budget = RateBudget(per_minute=120)
    async with StoryClient(story_transport(sandbox.base_url, sandbox_key, budget=budget)) as api:
        provider = StoryProvider(api, base_url=sandbox.base_url)
        assert provider.poll_capacity(0.8) == pytest.approx(96 / 60)
        for _ in range(30):
            await api.get_credits(priority=Priority.COMMAND)
        assert provider.poll_capacity(0.8) == pytest.approx((120 - 12 - 30 - 1) / 60)
