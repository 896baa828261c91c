"""Every StoryClient method against the sandbox over real HTTP: the happy paths."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest

from bridge.http.ratelimit import Priority
from bridge.providers.story.client import StoryClient
from schemas.story import requests as q
from schemas.story import resources as r
from tests.fixtures.client import advance_clock, request_log


def key() -> str:
    return str(uuid4())


TARGET = {"audience": "buyers", "objective": "explain the launch", "outcome": "book a demo"}


@dataclass
class World:
    project: r.Project
    source: r.Source
    plan: r.Plan
    job: r.Job
    artifact_id: str


async def ready_world(api: StoryClient, sandbox: Any) -> World:
    """project -> text source -> plan -> approve -> job -> READY artifact, via the client."""
    project = (await api.create_project(q.ProjectCreate(name="flow"), idempotency_key="p")).data
    source = (
        await api.create_source(project.id, {"type": "text", "content": "Once upon a time."})
    ).data
    plan_body = {
        "target": TARGET,
        "artifactRequests": [{"type": "table_read", "mode": "documentary"}],
        "sourceIds": [source.id],
    }
    plan = (await api.create_plan(project.id, plan_body, idempotency_key="plan")).data
    advance_clock(sandbox, 600)
    plan = (await api.get_plan(plan.id, priority=Priority.POLL)).data
    assert plan.status == "REQUIRES_APPROVAL"
    plan = (await api.approve_plan(plan.id)).data
    assert plan.status == "APPROVED"
    job = (await api.create_job({"storyPlanId": plan.id}, idempotency_key="job")).data
    advance_clock(sandbox, 600)
    job = (await api.get_job(job.id, priority=Priority.POLL)).data
    assert job.status == "READY"
    return World(project, source, plan, job, job.artifacts[0].id)


@pytest.fixture
async def world(story_client: StoryClient, sandbox: Any) -> AsyncIterator[World]:
    yield await ready_world(story_client, sandbox)


class TestDiscovery:
    async def test_capabilities_and_credits(self, story_client: StoryClient) -> None:
        """The manifest and the balance parse into their models."""
        caps = await story_client.get_capabilities()
        credits = await story_client.get_credits()
        assert isinstance(caps.data, r.Capabilities) and caps.data.version == "v1"
        assert isinstance(credits.data, r.CreditBalance) and credits.data.balance is not None
        assert caps.request_id and credits.status == 200


class TestProjects:
    async def test_create_get_update_delete(self, story_client: StoryClient) -> None:
        """A project goes through its whole life, envelopes unwrapped."""
        created = await story_client.create_project(
            {"name": "a", "metadata": {"ref": 1}}, idempotency_key=key()
        )
        pid = created.data.id
        assert created.raw["project"]["id"] == pid
        assert (await story_client.get_project(pid)).data.name == "a"
        updated = await story_client.update_project(pid, q.ProjectUpdate(name="b"))
        assert updated.data.name == "b"
        deleted = await story_client.delete_project(pid)
        assert deleted.data.id == pid

    async def test_iter_projects_follows_every_page(
        self, story_client: StoryClient, sandbox: Any
    ) -> None:
        """iter_projects walks nextCursor across pages and yields every project once."""
        ids = {
            (await story_client.create_project({"name": f"p{i}"}, idempotency_key=key())).data.id
            for i in range(5)
        }
        page = await story_client.list_projects(limit=2)
        assert len(page.data.items) == 2 and page.data.next_cursor
        seen = [p.id async for p in story_client.iter_projects(limit=2)]
        assert ids <= set(seen) and len(seen) == len(set(seen))
        assert len(request_log(sandbox, "/story-projects")) >= 5 + 1 + 3


class TestSources:
    async def test_create_list_get_delete(self, story_client: StoryClient) -> None:
        """A text source is READY at once; list, iter, get and delete find it."""
        pid = (await story_client.create_project({"name": "s"}, idempotency_key=key())).data.id
        src = (await story_client.create_source(pid, q.SourceCreate(type="text", content="x"))).data
        assert src.status == "READY"
        assert [s.id for s in (await story_client.list_sources(pid)).data.items] == [src.id]
        assert [s.id async for s in story_client.iter_sources(pid)] == [src.id]
        assert (await story_client.get_source(pid, src.id)).data.id == src.id
        assert (await story_client.delete_source(pid, src.id)).data.id == src.id


class TestPlansAndJobs:
    async def test_the_plan_and_job_chain(self, story_client: StoryClient, world: World) -> None:
        """Plans and jobs list, iterate and read back; a job's artifacts are listed."""
        pid = world.project.id
        assert [p.id for p in (await story_client.list_plans(pid)).data.items] == [world.plan.id]
        assert [p.id async for p in story_client.iter_plans(pid)] == [world.plan.id]
        jobs = await story_client.list_jobs(project_id=pid)
        assert [j.id for j in jobs.data.items] == [world.job.id]
        assert [j.id async for j in story_client.iter_jobs(story_plan_id=world.plan.id)] == [
            world.job.id
        ]
        arts = await story_client.list_job_artifacts(world.job.id)
        assert [a.id for a in arts.data.items] == [world.artifact_id]

    async def test_reject_plan(self, story_client: StoryClient, sandbox: Any) -> None:
        """A plan awaiting approval can be rejected with a reason."""
        pid = (await story_client.create_project({"name": "r"}, idempotency_key=key())).data.id
        plan = (
            await story_client.create_plan(
                pid,
                {"target": TARGET, "artifactRequests": [{"type": "table_read"}]},
                idempotency_key=key(),
            )
        ).data
        advance_clock(sandbox, 600)
        rejected = await story_client.reject_plan(plan.id, {"reason": "tone"})
        assert rejected.data.status == "REJECTED"

    async def test_cancel_job(self, story_client: StoryClient, world: World, sandbox: Any) -> None:
        """A fresh job can be canceled."""
        job = (
            await story_client.create_job({"storyPlanId": world.plan.id}, idempotency_key=key())
        ).data
        canceled = await story_client.cancel_job(job.id)
        assert canceled.data.status == "CANCELED"


class TestArtifacts:
    async def test_reads(self, story_client: StoryClient, world: World) -> None:
        """The artifact, a past revision and its script read back."""
        art = await story_client.get_artifact(world.artifact_id)
        assert art.data.status == "READY" and art.raw["artifact"]["id"] == world.artifact_id
        assert (await story_client.get_artifact(world.artifact_id, revision=1)).data.id
        script = await story_client.get_artifact_script(world.artifact_id, scope="page", page=1)
        assert isinstance(script.data, r.Script)

    async def test_refine_finalize_render(self, story_client: StoryClient, world: World) -> None:
        """The paid actions answer with their documented shapes."""
        aid = world.artifact_id
        fin = await story_client.artifact_finalize(aid, {"mode": "audio"}, idempotency_key="fin")
        assert fin.data.finalize is not None
        video = await story_client.artifact_render_video(aid, idempotency_key="vid")
        assert isinstance(video.data, r.RenderVideoResult)
        refine = await story_client.artifact_refine(
            aid, q.ArtifactRefine(instruction="warmer"), idempotency_key="ref"
        )
        assert isinstance(refine.data, r.Job) and refine.data.id

    async def test_voice_cast_avatar_and_modification(
        self, story_client: StoryClient, world: World
    ) -> None:
        """The in-place mutations of a table read."""
        aid = world.artifact_id
        voice = await story_client.artifact_voice(
            aid,
            {"character": "NARRATOR", "voiceId": "v1", "voiceName": "Warm"},
            idempotency_key="voice",
        )
        assert voice.data.character == "NARRATOR"
        cast = await story_client.artifact_cast(
            aid, {"avatarStyle": "noir"}, idempotency_key="cast"
        )
        assert isinstance(cast.data, r.CastResult)
        assert isinstance((await story_client.get_artifact_cast(aid)).data, r.Cast)
        avatar = await story_client.artifact_avatar(
            aid, {"character": "NARRATOR"}, idempotency_key="avatar"
        )
        assert avatar.data.character == "NARRATOR"
        mod = await story_client.artifact_voice_modification(
            aid, {"startEntryIndex": 0, "endEntryIndex": 1}, idempotency_key="mod"
        )
        assert isinstance(mod.data, r.VoiceModificationResult)

    async def test_coverage_music_and_sfx(self, story_client: StoryClient, world: World) -> None:
        """Side reports and audio layers: start, then read."""
        aid = world.artifact_id
        assert (await story_client.get_artifact_coverage(aid)).data is None
        started = await story_client.artifact_coverage(aid, idempotency_key="cov")
        report_id = started.raw["reportId"]
        cov = await story_client.get_artifact_coverage(aid, report_id=report_id)
        assert cov.data is not None
        music = await story_client.artifact_music(aid, {"musicCoveragePercent": 0.35})
        assert isinstance(music.data, r.MusicResult)
        assert isinstance((await story_client.get_artifact_music(aid)).data, r.Music)
        sfx = await story_client.artifact_sfx(
            aid, {"op": "add", "entryIndex": 1, "label": "knock"}, idempotency_key="sfx"
        )
        assert sfx.data.cue is not None
        assert len((await story_client.get_artifact_sfx(aid)).data.cues) == 1


class TestSeriesBible:
    async def test_generate_read_update(self, story_client: StoryClient, sandbox: Any) -> None:
        """The bible document is generated, read and patched through its envelope."""
        pid = (await story_client.create_project({"name": "bible"}, idempotency_key=key())).data.id
        generated = await story_client.generate_series_bible(
            pid, {"instructions": "10 episodes"}, idempotency_key="bible"
        )
        assert isinstance(generated.data, r.SeriesBible)
        advance_clock(sandbox, 600)
        assert isinstance((await story_client.get_series_bible(pid)).data, r.SeriesBible)
        updated = await story_client.update_series_bible(pid, {"title": "Canon"})
        assert updated.data.title == "Canon"


class TestEscapeHatch:
    async def test_request_returns_raw_json(self, story_client: StoryClient) -> None:
        """request() sends any path and returns the JSON as-is."""
        resp = await story_client.request("GET", "credits", priority=Priority.POLL)
        assert resp.status == 200 and "credits" in resp.raw


class TestDocsAndCanon:
    async def test_openapi_and_examples_are_returned_raw(self, story_client: StoryClient) -> None:
        """The docs endpoints come back as raw JSON."""
        assert (await story_client.get_openapi()).status == 200
        examples = await story_client.get_examples()
        assert examples.status == 200 and examples.raw is not None

    async def test_cast_canon_read_and_patch(self, story_client: StoryClient) -> None:
        """The undocumented cast canon is readable and patchable as raw JSON."""
        pid = (await story_client.create_project({"name": "canon"}, idempotency_key=key())).data.id
        patched = await story_client.update_cast_canon(pid, {"title": "Cast"})
        read = await story_client.get_cast_canon(pid)
        assert patched.status == read.status == 200
        assert read.raw["document"]["title"] == "Cast"
