"""Discovery's listings are reads of the watches they cover (issue 23): a job page a sweep reads is
a poll of the watched jobs it holds, and of the jobs it starts to watch.

Real nats-server, the Story sandbox over HTTP with a frozen clock (jobs stay as they are until the
test moves time), poll floors stretched far beyond the test so that only discovery can explain a
read or an event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nats.js.api import DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from bridge.names import EVENTS_STREAM, Subjects
from bridge.providers.story.watch.provider import StoryProvider
from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer
from bridge.watch import WatchEngine, WatchSettings, WatchSpec
from schemas.story.requests import JobCreate
from tests.fixtures.sandbox import JOB_DONE, SandboxApi
from tests.fixtures.waiting import until

SUBJECTS = Subjects("story")
JOBS = 5
# Job floors are 5 s (running) to 15 s: at x20 the poller reads a job at most every 100 s.
SLOW_POLLS = 20.0


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    return StorySandboxConfig(
        speed=1.0, manual_clock=True, rate_limit_per_minute=100_000, initial_credits=10**9
    )


@pytest.fixture
def jobs(sandbox: StorySandboxServer, sandbox_api: SandboxApi) -> tuple[str, list[str]]:
    """(project id, job ids) of jobs in flight, made in the sandbox world as work begun elsewhere."""
    project_id, plan_id = sandbox_api.approved_plan()
    world = sandbox.state.world
    ids = [str(world.jobs.create(JobCreate(storyPlanId=plan_id))["id"]) for _ in range(JOBS)]
    return project_id, ids


@pytest.fixture
async def start_engine(
    js: JetStreamContext, kv: KeyValue, story_client: Any, sandbox: StorySandboxServer
) -> AsyncIterator[Callable[[float], Awaitable[WatchEngine]]]:
    engines: list[WatchEngine] = []

    async def start(discovery_interval: float) -> WatchEngine:
        provider = StoryProvider(story_client, base_url=sandbox.base_url)
        settings = WatchSettings(
            interval_scale=SLOW_POLLS, discovery_interval=discovery_interval, jitter=0.0
        )
        engine = WatchEngine(js, kv, {"story": provider}, SUBJECTS, settings)
        await engine.start()
        engines.append(engine)
        return engine

    yield start
    for engine in engines:
        await engine.stop()


def _job_reads(sandbox: StorySandboxServer, since: int) -> list[str]:
    """Paths of the job reads (listings and single reads) made after log entry `since`."""
    return [
        e.path
        for e in sandbox.state.log.entries()[since:]
        if e.method == "GET" and e.path.startswith("/story-jobs")
    ]


async def _statuses(js: JetStreamContext, job_ids: list[str]) -> dict[str, list[str]]:
    info = await js.stream_info(EVENTS_STREAM)
    out: dict[str, list[str]] = {id: [] for id in job_ids}
    if not info.state.messages:
        return out
    sub = await js.subscribe(
        "story.evt.job.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
    )
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                break
            data = json.loads(msg.data)["data"]
            if data.get("id") in out and "facet" not in data:
                out[data["id"]].append(data["status"])
    finally:
        await sub.unsubscribe()
    return out


async def _watched(kv: KeyValue, job_ids: list[str]) -> bool:
    for id in job_ids:
        try:
            await kv.get(WatchSpec(provider="story", resource="job", id=id).key)
        except Exception:
            return False
    return True


async def test_jobs_a_sweep_starts_to_watch_are_read_by_its_page_alone(
    start_engine: Callable[[float], Awaitable[WatchEngine]],
    js: JetStreamContext,
    kv: KeyValue,
    sandbox: StorySandboxServer,
    jobs: tuple[str, list[str]],
) -> None:
    """The sweep at start finds five running jobs on one page and watches them: that page is
    their first read (their status is published from it), not one more listing right after."""
    _, ids = jobs
    before = len(sandbox.state.log.entries())
    await start_engine(3600.0)  # one sweep, at start
    await until(lambda: _watched(kv, ids), limit=30)

    async def published() -> bool:
        return all((await _statuses(js, ids)).values())

    await until(published, limit=30)
    reads = _job_reads(sandbox, before)
    assert len(reads) == 1, reads  # discovery's page; the poller's next read is 100 s away
    assert reads[0].startswith("/story-jobs?") or reads[0] == "/story-jobs", reads


async def test_a_sweep_is_a_poll_of_the_jobs_already_watched(
    start_engine: Callable[[float], Awaitable[WatchEngine]],
    js: JetStreamContext,
    kv: KeyValue,
    sandbox: StorySandboxServer,
    sandbox_api: SandboxApi,
    jobs: tuple[str, list[str]],
) -> None:
    """Watched jobs finish while the poller waits out a 100 s floor: the next sweep (every 0.5 s)
    reads their page and `job.ready` is published from it, with no read of the poller's."""
    project_id, ids = jobs
    engine = await start_engine(0.5)
    for id in ids:  # already watched (the sweep at start may have got there first: the same)
        await engine.add(
            WatchSpec(provider="story", resource="job", id=id, parents={"projectId": project_id})
        )
    await until(lambda: _watched(kv, ids), limit=30)

    async def running() -> bool:
        return all((await _statuses(js, ids)).values())

    await until(running, limit=30)
    sandbox_api.advance(JOB_DONE)

    async def ready() -> bool:
        return all("ready" in s for s in (await _statuses(js, ids)).values())

    await until(ready, limit=30)
    stats = engine.stats()
    assert stats.active == 0  # a READY job is terminal: the sweep's read finished the watches


async def test_a_sweep_over_several_pages_is_the_only_read_of_their_jobs(
    start_engine: Callable[[float], Awaitable[WatchEngine]],
    js: JetStreamContext,
    kv: KeyValue,
    sandbox: StorySandboxServer,
    sandbox_api: SandboxApi,
) -> None:
    """150 running jobs of one project are two pages: the sweep watches them all from those two
    pages, and the read unit they share (one per project) is served by the pair, not polled again
    after the second page because the first page's members looked like the whole unit."""
    _, plan_id = sandbox_api.approved_plan()
    world = sandbox.state.world
    ids = [str(world.jobs.create(JobCreate(storyPlanId=plan_id))["id"]) for _ in range(150)]
    before = len(sandbox.state.log.entries())
    await start_engine(3600.0)
    await until(lambda: _watched(kv, ids), limit=60)

    async def published() -> bool:
        return all((await _statuses(js, ids)).values())

    await until(published, limit=60)
    reads = _job_reads(sandbox, before)
    assert len(reads) == 2, reads  # discovery's two pages; the poller's next read is 100 s away


async def test_discovery_leaves_a_removed_watch_alone(
    start_engine: Callable[[float], Awaitable[WatchEngine]],
    kv: KeyValue,
    jobs: tuple[str, list[str]],
) -> None:
    """A watch removed on request (on any replica: the record says so, not this replica's mirror)
    is not armed again by a later sweep; a resource never watched is."""
    project_id, ids = jobs
    engine = await start_engine(0.0)  # sweeps driven by hand below
    removed, fresh = ids[0], ids[1]
    spec = WatchSpec(
        provider="story", resource="job", id=removed, parents={"projectId": project_id}
    )
    await engine.add(spec)
    assert await engine.remove("story", "job", removed)
    await engine.add(spec.model_copy(update={"origin": "discovery"}), only_new=True)
    record = json.loads((await kv.get(spec.key)).value)
    assert record["done"] is True  # still removed
    new = WatchSpec(provider="story", resource="job", id=fresh, parents={"projectId": project_id})
    await engine.add(new.model_copy(update={"origin": "discovery"}), only_new=True)
    assert json.loads((await kv.get(new.key)).value).get("done", False) is False
