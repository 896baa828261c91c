"""Handing existing work to the bridge priced per listing page, not per watch (issue 23).

Real nats-server, the Story sandbox over HTTP with 1,000 jobs already in flight over 10 projects,
the bridge at the default tier's 120 requests a minute.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from bridge.providers.story.onboarding import listed_lookup
from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer
from schemas.story.requests import JobCreate
from tests.fixtures.bridge import SUBJECTS, Outcomes, StartBridge, send
from tests.fixtures.sandbox import SandboxApi
from tests.fixtures.syllaby_bridge import StartSyllabyBridge
from tests.fixtures.syllaby_sandbox import SyllabyApi

PROJECTS, PER_PROJECT = 10, 100


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    # A frozen clock: the jobs stay in flight for as long as the test looks at them.
    return StorySandboxConfig(
        speed=1.0, manual_clock=True, rate_limit_per_minute=100_000, initial_credits=10**9
    )


def _jobs_in_flight(sandbox: StorySandboxServer, api: SandboxApi) -> dict[str, list[str]]:
    """project id -> its job ids, made in the sandbox world directly (as work begun elsewhere)."""
    out: dict[str, list[str]] = {}
    for _ in range(PROJECTS):
        project_id, plan_id = api.approved_plan()
        out[project_id] = [
            str(sandbox.state.world.jobs.create(JobCreate(storyPlanId=plan_id))["id"])
            for _ in range(PER_PROJECT)
        ]
    return out


def _single_job_reads(sandbox: StorySandboxServer) -> list[Any]:
    return [
        e
        for e in sandbox.state.log.entries()
        if e.method == "GET" and e.path.startswith("/story-jobs/")
    ]


async def test_a_thousand_watch_adds_cost_a_page_per_project(
    start_bridge: StartBridge, nc: NatsClient, sandbox: StorySandboxServer, sandbox_api: SandboxApi
) -> None:
    """1,000 concurrent `watch.add` of running jobs over 10 projects, at 120 requests a minute:
    all answered within a minute, from one listing page per project (no read per job); made-up
    ids still get the API's not-found code."""
    jobs = _jobs_in_flight(sandbox, sandbox_api)
    bridge = await start_bridge(rate_limit_per_minute=120, poll_interval_scale=1.0)
    t0 = time.monotonic()
    before = len(sandbox.state.log.entries())

    async def add(project_id: str, job_id: str) -> dict[str, Any]:
        body = {"resource": "job", "id": job_id, "projectId": project_id}
        reply = await nc.request(SUBJECTS.request("watch.add"), json.dumps(body).encode(), 60)
        doc: dict[str, Any] = json.loads(reply.data)
        return doc

    calls = [add(p, j) for p, ids in jobs.items() for j in ids]
    made_up = [add(p, f"cmj_madeup{i}") for i, p in enumerate(list(jobs)[:3])]
    outcomes = await asyncio.gather(*calls, *made_up)
    elapsed = time.monotonic() - t0
    real, fake = outcomes[: len(calls)], outcomes[len(calls) :]
    assert all(o["ok"] for o in real), [o for o in real if not o["ok"]][:3]
    assert all(o["error"]["code"] == "story_job_not_found" for o in fake), fake
    assert elapsed < 60, elapsed
    # One page per 100 ids, and slack.
    assert listed_lookup(bridge.client("story")).pages_read <= 2 * PROJECTS
    # The listing proved the made-up ids absent: none was read singly.
    assert not [e for e in _single_job_reads(sandbox) if "madeup" in e.path]
    onboarding = len(sandbox.state.log.entries()) - before
    # Everything the API saw meanwhile (the poller's first reads of the new watches included):
    # about 2 requests per 100 watches, not one per watch.
    assert onboarding <= 3 * PROJECTS, onboarding


async def test_bulk_watch_add_answers_per_id(
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: StorySandboxServer,
    sandbox_api: SandboxApi,
) -> None:
    project_id, plan_id = sandbox_api.approved_plan()
    ids = [
        str(sandbox.state.world.jobs.create(JobCreate(storyPlanId=plan_id))["id"])
        for _ in range(150)
    ]
    bridge = await start_bridge()
    body = {"resource": "job", "projectId": project_id, "ids": [*ids, "cmj_nope1", "cmj_nope2"]}
    outcome = await send(nc, outcomes, "request", "watch.add", body)
    assert outcome["ok"] is True
    assert outcome["result"]["watching"] == ids
    assert outcome["result"]["notFound"] == ["cmj_nope1", "cmj_nope2"]
    # 150 jobs: two pages, no single read.
    assert listed_lookup(bridge.client("story")).pages_read == 2
    listed, _ = await bridge.engine.list_watches(resource="job", limit=1000)
    assert {w["id"] for w in listed} == set(ids)

    nothing = {"resource": "job", "projectId": project_id, "ids": ["cmj_nope3"]}
    refused = await send(nc, outcomes, "durable", "watch.add", nothing)
    assert refused["ok"] is False and refused["error"]["code"] == "story_job_not_found"
    assert refused["error"]["retryable"] is False

    for bad in (
        {"resource": "job", "projectId": project_id},
        {"resource": "job", "id": ids[0], "ids": ids[:2]},
        {"resource": "job", "ids": ["ok", ".."]},
        {"resource": "job", "ids": [f"j{i}" for i in range(1001)]},
    ):
        invalid = await send(nc, outcomes, "request", "watch.add", bad)
        assert invalid["error"]["code"] == "invalid_command", bad


async def test_bulk_watch_add_of_resources_without_a_listing_reads_each(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
) -> None:
    boards = [str(syllaby_api.with_clips()["id"]) for _ in range(3)]
    await start_syllaby_bridge()
    body = {"provider": "syllaby", "resource": "storyboard", "ids": [*boards, "999999"]}
    outcome = await send(nc, outcomes, "request", "watch.add", body)
    assert outcome["ok"] is True
    assert outcome["result"]["watching"] == boards
    assert outcome["result"]["notFound"] == ["999999"]
