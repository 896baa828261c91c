"""The vendor's production client's pipeline (FIELD-NOTES "Request shapes the production client
sends"), replayed as bridge commands through NATS against the sandbox.

Each step sends the shape that client sends and checks the answer where that client reads it
(`res.release.id`, `res.music.definedClips`, `res.script.selection.entries`, ...), plus the events
the step starts. Reads the contract has no command for yet go through `StoryClient`, as the
production client reads them over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from bridge.providers.story.client import StoryClient
from schemas.story.commands_pipeline import PIPELINE_COMMANDS
from tests.fixtures.bridge import SUBJECTS, Outcomes, Recorder, StartBridge, send
from tests.fixtures.waiting import until

pytestmark = pytest.mark.slow

TARGET = {"audience": "night-shift listeners", "objective": "retell the day", "outcome": "sleep"}
BRIEF = "A calm two-host recap of the day's science news."
SOURCE = "Researchers mapped a deep-sea vent colony. The survey took nine weeks. " * 10


class Pipeline:
    """Commands by request/reply, each checked ok; the events they cause, recorded."""

    def __init__(self, nc: NatsClient, outcomes: Outcomes, api: StoryClient) -> None:
        self.nc, self.outcomes, self.api = nc, outcomes, api
        self.events = Recorder()
        self.sent: set[str] = set()

    async def res(self, command: str, payload: dict[str, Any]) -> Any:
        outcome = await send(self.nc, self.outcomes, "request", command, payload, timeout=60)
        assert outcome["ok"] is True, outcome
        self.sent.add(command)
        return outcome["result"]

    def saw(self, subject: str, id: str | None = None) -> bool:
        for msg in self.events.on(subject):
            if msg.subject == SUBJECTS.event(subject) and (id is None or id.encode() in msg.data):
                return True
        return False

    async def event(self, subject: str, id: str | None = None) -> None:
        assert await self.events.wait_for(lambda: self.saw(subject, id), timeout=90), subject

    async def plan_status(self, plan_id: str, status: str) -> None:
        await until(lambda: self._status(self.api.get_plan(plan_id), status), limit=60)

    async def job_status(self, job_id: str, status: str) -> Any:
        async def probe() -> Any:
            job = (await self.api.get_job(job_id)).data
            return job if job.status == status else None

        return await until(probe, limit=90)

    @staticmethod
    async def _status(call: Any, status: str) -> bool:
        return bool((await call).data.status == status)


@pytest.fixture
async def pipeline(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, story_client: StoryClient
) -> Pipeline:
    await start_bridge()
    found = Pipeline(nc, outcomes, story_client)
    await nc.subscribe(SUBJECTS.event(">"), cb=found.events.on_msg)
    return found


async def test_the_production_pipeline_succeeds_step_by_step_through_bridge_commands(
    pipeline: Pipeline,
) -> None:
    """project -> source -> plan (creativeBrief, notes) -> approve (userConfirmed) -> job -> series
    bible -> cast canon -> cast batch -> recast -> script -> voice modification -> SFX -> music
    shaping -> finalize -> release create, describe, publish, list, refresh media."""
    p = pipeline
    res = await p.res("project.create", {"name": "Nightly science"})
    pid = res["project"]["id"]
    res = await p.res("source.create", {"projectId": pid, "type": "text", "content": SOURCE})
    sid = res["source"]["id"]
    res = await p.res(
        "plan.create",
        {"projectId": pid, "target": TARGET, "creativeBrief": BRIEF, "sourceIds": [sid],
         "artifactRequests": [{"type": "table_read", "mode": "podcast",
                               "notes": "Two hosts, no narrator, under ten minutes."}]},
    )  # fmt: skip
    plan_id = res["plan"]["id"]
    assert res["plan"]["status"] == "PENDING"
    await p.event("plan.requires_approval", plan_id)  # table reads always stop for a review
    res = await p.res("plan.approve", {"planId": plan_id, "userConfirmed": True})
    assert res["plan"]["status"] == "APPROVED"
    await p.event("plan.approved", plan_id)

    res = await p.res("job.create", {"storyPlanId": plan_id, "projectId": pid})
    job_id = res["job"]["id"]
    await p.event("job.ready", job_id)
    job = await p.job_status(job_id, "READY")
    aid = job.artifacts[0].id

    res = await p.res("series_bible.generate", {"projectId": pid, "instructions": "one season"})
    assert res["document"]["content"]
    res = await p.res(
        "cast_canon.update",
        {"projectId": pid, "content": {"characters": [{"name": "HOST", "voice": "warm"}]}},
    )
    assert res["document"]["content"]["characters"][0]["name"] == "HOST"

    cast = (await p.api.get_artifact_cast(aid)).raw["cast"]
    speakers = [member["character"] for member in cast]
    res = await p.res(
        "artifact.cast",
        {"artifactId": aid,
         "entries": [{"character": c, "voiceId": f"v-{i}", "voiceName": f"Voice {i}",
                      "gender": "neutral", "provider": "cartesia"}
                     for i, c in enumerate(speakers)]},
    )  # fmt: skip
    assert set(res["voiceMap"]) >= set(speakers)
    res = await p.res(
        "artifact.voice",
        {"artifactId": aid, "character": speakers[0], "voiceId": "v-x", "voiceName": "Recast"},
    )
    assert res["voiceMap"][speakers[0]]["voiceId"] == "v-x"

    script = (await p.api.get_artifact_script(aid, scope="page", limit=5)).raw
    entries = script["script"]["selection"]["entries"]
    assert entries and {"entryIndex", "character", "text"} <= set(entries[0])
    by_character = await p.api.get_artifact_script(
        aid, scope="character", character=speakers[0], limit=3
    )
    lines = by_character.raw["script"]["selection"]["entries"]
    assert lines and all(line["character"] == speakers[0] for line in lines)

    await p.res(
        "artifact.voice_modification",
        {"artifactId": aid, "startEntryIndex": 0, "endEntryIndex": 1, "effect": "autotune",
         "params": {"key": "C"}},
    )  # fmt: skip
    await p.event("artifact.voice_modification.ready", aid)
    art = (await p.api.get_artifact(aid)).raw["artifact"]
    newest = art["manifest"]["audio"]["modifications"][-1]
    assert newest["status"] == "ready" and newest["updatedAt"]

    res = await p.res(
        "artifact.sfx",
        {"artifactId": aid, "op": "add", "entryIndex": 1, "label": "tide",
         "prompt": "soft waves", "generatedDurationS": 2.5, "enabled": True},
    )  # fmt: skip
    assert res["cue"]["isDraft"] is True
    await p.event("artifact.sfx.ready", res["cue"]["id"])

    # Music shaping: directive, one scene's clip, regenerate named scenes.
    res = await p.res(
        "artifact.music",
        {"artifactId": aid, "scope": "screenplay", "mode": "replace", "prompt": "low pads"},
    )
    assert res["music"]["musicMode"] == "defined_clips"
    assert len(res["music"]["definedClips"]) == res["music"]["totalScenes"]
    res = await p.res(
        "artifact.music", {"artifactId": aid, "sceneIndex": 2, "clip": {"disabled": True}}
    )
    assert next(c for c in res["music"]["definedClips"] if c["sceneIndex"] == 2)["disabled"]
    res = await p.res("artifact.music", {"artifactId": aid, "regenerateScenes": [0, 7]})
    await p.event("artifact.music_clips.settled", aid)
    music = (await p.api.get_artifact_music(aid)).raw["music"]
    assert music["musicMode"] == "defined_clips"
    assert {c["status"] for c in music["definedClips"]} <= {"ready", "failed"}

    res = await p.res("artifact.finalize", {"artifactId": aid, "mode": "audio"})
    assert res["finalize"]["status"] in ("queued", "complete")
    await p.event("artifact.finalize.complete", aid)

    res = await p.res(
        "release.create",
        {"seriesId": "ser_nightly", "title": "Episode 1: The vent", "sourceArtifactId": aid,
         "type": "episode", "seasonNumber": 1},
    )  # fmt: skip
    release_id = res["release"]["id"]
    res = await p.res(
        "release.describe", {"releaseId": release_id, "direction": "Warm, under 80 words."}
    )
    assert res["release"]["description"]
    res = await p.res("release.publish", {"releaseId": release_id})
    assert res["release"]["status"] in ("publishing", "published")
    await p.event("release.published", release_id)
    res = await p.res(
        "release.list", {"seriesId": "ser_nightly", "status": "published", "limit": 100}
    )
    assert [r["sourceArtifactId"] for r in res["releases"]] == [aid]
    assert res["releases"][0]["status"] == "published" and res["nextCursor"] is None
    res = await p.res("release.refresh_media", {"releaseId": release_id, "sourceArtifactId": aid})
    assert res["release"]["media"]["refreshedAt"]

    res = await p.res("artifact.start_live", {"artifactId": aid})
    assert res["dailyRoomUrl"].startswith("https://")
    res = await p.res("agent_guidance.get", {})
    assert res["guidance"]["sections"]


async def test_resume_recovers_a_failed_plan_and_a_failed_job(pipeline: Pipeline) -> None:
    """plan.resume generates a FAILED plan again (plan.failed, then requires_approval); job.resume
    renders a FAILED job's artifacts again (job.failed, then job.ready)."""
    p = pipeline
    pid = (await p.res("project.create", {"name": "recovery"}))["project"]["id"]
    plan = (
        await p.res(
            "plan.create",
            {"projectId": pid, "title": "fail the first run", "target": TARGET,
             "artifactRequests": [{"type": "table_read", "notes": "fail once"}]},
        )
    )["plan"]  # fmt: skip
    await p.event("plan.failed", plan["id"])
    res = await p.res("plan.resume", {"planId": plan["id"]})
    assert res["plan"]["id"] == plan["id"]
    await p.event("plan.requires_approval", plan["id"])
    await p.res("plan.approve", {"planId": plan["id"], "userConfirmed": True})

    job = (await p.res("job.create", {"storyPlanId": plan["id"]}))["job"]
    await p.event("job.failed", job["id"])
    res = await p.res("job.resume", {"jobId": job["id"]})
    assert res["job"]["id"] == job["id"] and res["job"]["status"] in ("RUNNING", "PARTIAL")
    await p.event("job.ready", job["id"])
    ready = await p.job_status(job["id"], "READY")
    assert ready.artifacts[0].status == "READY"


async def test_release_list_pages_with_the_cursor(pipeline: Pipeline, sandbox_api: Any) -> None:
    """release.list answers `{releases, nextCursor}`; following nextCursor reads every release once."""
    p = pipeline
    _, aid = sandbox_api.ready_artifact()
    made = []
    for n in range(3):
        res = await p.res(
            "release.create",
            {"seriesId": "ser_paged", "title": f"Ep {n}", "sourceArtifactId": aid},
        )
        made.append(res["release"]["id"])
    seen: list[str] = []
    cursor = None
    while True:
        page = await p.res(
            "release.list",
            {"seriesId": "ser_paged", "limit": 2, **({"cursor": cursor} if cursor else {})},
        )
        seen.extend(r["id"] for r in page["releases"])
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == made


def test_the_replay_covers_every_command_the_project_added() -> None:
    """Each project-added command appears in this module's replays (read from the source)."""
    from pathlib import Path

    text = Path(__file__).read_text()
    assert all(f'"{m.command}"' in text for m in PIPELINE_COMMANDS)
