"""How the Story provider reads a project's watched jobs: limit=100 pages, only the pages that
hold a watched job, and one plan's listing when every watched job names the same plan.

The real sandbox over HTTP; calls are counted from its request log.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from bridge.providers.story.watch.provider import StoryProvider
from bridge.watch.model import Reading, WatchSpec


def job_spec(job_id: str, project: str, **parents: str) -> WatchSpec:
    return WatchSpec(
        provider="story", resource="job", id=job_id, parents={"projectId": project, **parents}
    )


def listing_calls(sandbox: Any) -> list[dict[str, list[str]]]:
    return [parse_qs(e.query) for e in sandbox.state.log.entries() if e.path == "/story-jobs"]


async def test_a_long_history_costs_one_call_per_page_that_holds_a_watched_job(
    story_client: Any, sandbox: Any
) -> None:
    """250 jobs, the three watched ones on the third page of 100: the first read walks to it
    (three calls, limit=100); every read after starts at that page's cursor (one call)."""
    world = sandbox.state.world
    project = world.projects.create({"name": "history"})["id"]
    ids = world.jobs.seed(project, 250)
    watched = [job_spec(i, project) for i in ids[-3:]]
    provider = StoryProvider(story_client, base_url=sandbox.base_url)

    sandbox.state.log.clear()
    first = await provider.read(watched)
    assert all(isinstance(first[s.key], Reading) for s in watched)
    calls = listing_calls(sandbox)
    assert len(calls) == 3 and all(c["limit"] == ["100"] for c in calls)

    sandbox.state.log.clear()
    again = await provider.read(watched)
    assert all(isinstance(again[s.key], Reading) for s in watched)
    (call,) = listing_calls(sandbox)
    assert "cursor" in call
    assert not [e for e in sandbox.state.log.entries() if e.path.startswith("/story-jobs/")]


async def test_jobs_of_one_plan_are_listed_by_that_plan(story_client: Any, sandbox: Any) -> None:
    """Watched jobs that all name one storyPlanId are read with `storyPlanId=` (a subset of the
    project's listing, never more pages); mixed plans fall back to the project's listing."""
    world = sandbox.state.world
    project = world.projects.create({"name": "plans"})["id"]
    ids = world.jobs.seed(project, 3)
    plan = "spl_seeded"  # seeded jobs name no plan: the narrowed listing is simply empty
    provider = StoryProvider(story_client, base_url=sandbox.base_url)
    sandbox.state.log.clear()
    await provider.read([job_spec(i, project, storyPlanId=plan) for i in ids])
    (call,) = listing_calls(sandbox)
    assert call["storyPlanId"] == [plan] and call["projectId"] == [project]
    sandbox.state.log.clear()
    await provider.read([job_spec(ids[0], project, storyPlanId=plan), job_spec(ids[1], project)])
    (call,) = listing_calls(sandbox)
    assert "storyPlanId" not in call
