"""Every artifact facet and the publishing releases, end to end: a command through NATS starts its
watch, the sandbox plays the work over HTTP, and the events arrive on STORYBRIDGE_EVENTS' subjects.

The contract's facets (video, music, coverage) and the project's additions (voice modification
ranges, SFX cue readiness, avatars, cast changes, defined music clips, releases) each get one
scenario.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from bridge.names import EVENTS_STREAM
from bridge.sandboxes.story import StorySandboxConfig
from bridge.sandboxes.story.config import StoryDurations
from tests.fixtures.bridge import SUBJECTS, Outcomes, Recorder, StartBridge, send
from tests.fixtures.sandbox import TEST_SPEED, SandboxApi
from tests.fixtures.waiting import until

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    """Side work slow enough (0.2-0.4 s of wall time per step) that polling sees its middle states."""
    durations = StoryDurations(
        video_stage=30, music=30, coverage=30, voice_modification=40, avatar=40, sfx=30,
        music_bed=20, publish=30,
    )  # fmt: skip
    return StorySandboxConfig(speed=TEST_SPEED, rate_limit_per_minute=100_000, durations=durations)


class Scene:
    """One bridge, one READY artifact, and every event the bridge publishes."""

    def __init__(self, nc: NatsClient, outcomes: Outcomes, artifact_id: str) -> None:
        self.nc, self.outcomes, self.artifact_id = nc, outcomes, artifact_id
        self.events = Recorder()

    async def ok(self, command: str, payload: dict[str, Any]) -> Any:
        outcome = await send(self.nc, self.outcomes, "request", command, payload)
        assert outcome["ok"] is True, outcome
        return outcome["result"]

    def facet(self, facet: str) -> list[dict[str, Any]]:
        """The `data` of every event of this facet, in arrival order."""
        return [
            e["data"]
            for _, e in self.events.resource_events()
            if e["data"].get("facet") == facet and e["data"].get("id") == self.artifact_id
        ]

    def statuses(self, facet: str, part: str | None = None) -> list[str]:
        return [d["status"] for d in self.facet(facet) if part is None or d.get("part") == part]

    async def until_status(self, facet: str, status: str, part: str | None = None) -> None:
        assert await self.events.wait_for(
            lambda: status in self.statuses(facet, part), timeout=60
        ), (facet, part, self.facet(facet))

    async def watch_of(self, resource: str, id: str) -> dict[str, Any] | None:
        listed = await self.ok("admin.watches", {"resource": resource, "limit": 100})
        return next((w for w in listed["watches"] if w["id"] == id), None)

    async def settled(self, after: float = 0.0) -> dict[str, Any]:
        """The artifact's watch once it is finished (after `after`) with its outbox flushed: from
        then on nothing more is published for it, so counting the stream is final."""

        async def done() -> dict[str, Any] | None:
            w = await self.watch_of("artifact", self.artifact_id)
            finished = w and w["state"] == "done" and not w["pendingEvents"]
            return w if finished and (w["doneAt"] or 0) > after else None

        found: dict[str, Any] = await until(done, limit=60, every=0.1)
        return found

    async def stored(self, suffix: str) -> int:
        """How many events STORYBRIDGE_EVENTS holds on `{p}.evt.<suffix>` (the stream, not what a
        subscription happened to receive)."""
        subject = SUBJECTS.event(suffix)
        info = await self.nc.jetstream().stream_info(EVENTS_STREAM, subjects_filter=subject)
        return int((info.state.subjects or {}).get(subject, 0))


@pytest.fixture
async def scene(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox_api: SandboxApi
) -> Scene:
    await start_bridge()
    _, artifact_id = sandbox_api.ready_artifact()
    found = Scene(nc, outcomes, artifact_id)
    await nc.subscribe(SUBJECTS.event(">"), cb=found.events.on_msg)
    return found


def _chained(chain: list[dict[str, Any]]) -> bool:
    """previousStatus starts at null and names the status of the event before, per chain."""
    return chain[0]["previousStatus"] is None and all(
        after["previousStatus"] == before["status"] for before, after in pairwise(chain)
    )


def _subjects(scene: Scene, prefix: str) -> list[str]:
    return [m.subject for m in scene.events.on(prefix)]


async def test_render_video_publishes_the_video_facet_until_complete(scene: Scene) -> None:
    """artifact.render_video: artifact.video.* events, queued first and complete last, chained."""
    await scene.ok("artifact.render_video", {"artifactId": scene.artifact_id})
    await scene.until_status("video", "complete")
    statuses = scene.statuses("video")
    assert statuses[0] == "queued" and statuses[-1] == "complete"
    assert _chained(scene.facet("video"))
    assert SUBJECTS.event("artifact.video.complete") in _subjects(scene, "artifact.video.")


async def test_music_generation_publishes_generating_then_ready(scene: Scene) -> None:
    """artifact.music with a coverage percent: artifact.music.generating, then .ready."""
    await scene.ok("artifact.music", {"artifactId": scene.artifact_id, "musicCoveragePercent": 35})
    await scene.until_status("music", "ready")
    assert scene.statuses("music") == ["generating", "ready"]
    assert _chained(scene.facet("music"))


async def test_coverage_publishes_generating_then_complete(scene: Scene) -> None:
    """artifact.coverage: artifact.coverage.generating, then .complete with the report."""
    await scene.ok("artifact.coverage", {"artifactId": scene.artifact_id, "focusPrompt": "act 2"})
    await scene.until_status("coverage", "complete")
    assert scene.statuses("coverage") == ["generating", "complete"]
    assert scene.facet("coverage")[-1]["snapshot"]["report"] is not None


async def test_voice_modification_publishes_one_chain_per_range(scene: Scene) -> None:
    """Two ranges modified: each has its own artifact.voice_modification chain (data.part), one
    ending ready and the one the sandbox fails ending failed."""
    aid = scene.artifact_id
    await scene.ok(
        "artifact.voice_modification",
        {"artifactId": aid, "startEntryIndex": 0, "endEntryIndex": 2, "effect": "autotune"},
    )
    await scene.ok(
        "artifact.voice_modification",
        {"artifactId": aid, "startEntryIndex": 3, "endEntryIndex": 4, "params": {"sandboxFail": 1}},
    )
    await scene.until_status("voice_modification", "ready", part="0-2")
    await scene.until_status("voice_modification", "failed", part="3-4")
    for part, last in (("0-2", "ready"), ("3-4", "failed")):
        chain = [d for d in scene.facet("voice_modification") if d["part"] == part]
        assert chain[-1]["status"] == last
        assert _chained(chain)
        assert chain[-1]["snapshot"]["startEntryIndex"] == int(part.split("-")[0])
    assert SUBJECTS.event("artifact.voice_modification.failed") in _subjects(
        scene, "artifact.voice_modification."
    )


async def test_sfx_cue_is_a_draft_until_its_sound_is_ready(scene: Scene) -> None:
    """artifact.sfx add answers a draft cue (isDraft, no soundUrl); the watch publishes
    artifact.sfx.draft then artifact.sfx.ready (soundUrl set) for that cue, and failed for a cue
    whose sound cannot be made."""
    aid = scene.artifact_id
    good = await scene.ok(
        "artifact.sfx",
        {"artifactId": aid, "op": "add", "entryIndex": 2, "label": "knock",
         "generatedDurationS": 1.5, "enabled": True},
    )  # fmt: skip
    assert good["cue"]["isDraft"] is True and good["cue"]["soundUrl"] is None
    bad = await scene.ok(
        "artifact.sfx", {"artifactId": aid, "op": "add", "entryIndex": 3, "prompt": "[fail] hum"}
    )
    good_id, bad_id = good["cue"]["id"], bad["cue"]["id"]
    await scene.until_status("sfx", "ready", part=good_id)
    await scene.until_status("sfx", "failed", part=bad_id)
    assert scene.statuses("sfx", good_id) == ["draft", "ready"]
    assert scene.facet("sfx")[-1]["snapshot"]["id"] in (good_id, bad_id)
    ready = next(d for d in scene.facet("sfx") if d["part"] == good_id and d["status"] == "ready")
    assert ready["snapshot"]["soundUrl"]


async def test_recast_with_new_avatars_publishes_avatar_statuses_per_character(
    scene: Scene, story_client: Any
) -> None:
    """artifact.avatar re-renders one portrait: artifact.avatar.* for that character (data.part)
    goes through rendering to ready."""
    cast = (await story_client.get_artifact_cast(scene.artifact_id)).raw["cast"]
    character = cast[0]["character"]
    await scene.ok("artifact.avatar", {"artifactId": scene.artifact_id, "character": character})
    await scene.until_status("avatar", "ready", part=character)
    mine = scene.statuses("avatar", character)
    assert mine[0] in ("queued", "rendering") and mine[-1] == "ready"
    assert _chained([d for d in scene.facet("avatar") if d["part"] == character])


async def test_defined_clips_settle_and_a_failed_bed_is_named(scene: Scene) -> None:
    """A music directive renders every scene's bed one by one (musicMode defined_clips):
    artifact.music_clips.rendering, then .settled once no bed is in flight; a clip that fails
    publishes artifact.music_clip.failed naming its scene."""
    aid = scene.artifact_id
    result = await scene.ok(
        "artifact.music",
        {"artifactId": aid, "scope": "screenplay", "mode": "replace", "prompt": "warm strings"},
    )
    assert result["music"]["musicMode"] == "defined_clips"
    await scene.until_status("music_clips", "settled")
    await scene.ok(
        "artifact.music", {"artifactId": aid, "sceneIndex": 2, "clip": {"prompt": "[fail] brass"}}
    )
    await scene.until_status("music_clip", "failed", part="2")
    assert await scene.events.wait_for(lambda: scene.statuses("music_clips").count("settled") == 2)
    assert scene.statuses("music_clips")[0] == "rendering"
    assert scene.statuses("music_clip") == ["failed"]  # only failures are events
    clips = scene.facet("music_clips")[-1]["snapshot"]["definedClips"]
    assert {c["sceneIndex"]: c["status"] for c in clips}[2] == "failed"


async def test_a_release_is_followed_until_published(scene: Scene, sandbox_api: SandboxApi) -> None:
    """release.create then release.publish: release.draft, release.publishing, release.published,
    with subject publishing-releases/{id}."""
    created = await scene.ok(
        "release.create",
        {"seriesId": "ser_nightly", "title": "Episode 1", "sourceArtifactId": scene.artifact_id,
         "type": "episode", "seasonNumber": 1},
    )  # fmt: skip
    release_id = created["release"]["id"]
    await scene.ok("release.publish", {"releaseId": release_id})

    def published() -> bool:
        return any(m.subject == SUBJECTS.event("release.published") for m in scene.events.messages)

    assert await scene.events.wait_for(published, timeout=60)
    chain = [json.loads(m.data) for m in scene.events.on("release.")]
    assert [e["data"]["status"] for e in chain][-1] == "published"
    assert chain[0]["data"]["status"] == "draft"
    assert all(e["subject"] == f"publishing-releases/{release_id}" for e in chain)
    assert _chained([e["data"] for e in chain])


def _voices(artifact: dict[str, Any]) -> dict[str, str]:
    return {c: v["voiceId"] for c, v in artifact["manifest"]["audio"]["voiceMap"].items()}


async def test_a_recast_publishes_exactly_one_cast_changed_with_the_new_voice(
    scene: Scene, story_client: Any
) -> None:
    """artifact.voice recasts one character: GET /artifacts/{id} shows the new voiceId at once, and
    the watch publishes one artifact.cast.changed whose snapshot carries it, then ends."""
    aid = scene.artifact_id
    character = sorted(_voices((await story_client.get_artifact(aid)).raw["artifact"]))[0]
    await scene.ok(
        "artifact.voice",
        {"artifactId": aid, "character": character, "voiceId": "voice_recast_1",
         "voiceName": "Gravel Host"},
    )  # fmt: skip
    assert _voices((await story_client.get_artifact(aid)).raw["artifact"])[character] == (
        "voice_recast_1"
    )
    await scene.until_status("cast", "changed")
    watch = await scene.settled()
    assert watch["doneReason"] == "terminal" and "cast" in watch["facets"]
    assert await scene.stored("artifact.cast.changed") == 1
    (event,) = scene.facet("cast")
    assert event["resource"] == "artifact" and event["previousStatus"] is None
    assert _voices(event["snapshot"])[character] == "voice_recast_1"


async def test_a_cast_batch_publishes_a_change_only_when_the_voices_differ(scene: Scene) -> None:
    """artifact.cast with voices: one artifact.cast.changed; the same batch again (a new command)
    leaves the map as it was and publishes none; another voice publishes the next change."""
    aid = scene.artifact_id

    async def recast(voice: str) -> dict[str, Any]:
        await scene.ok(
            "artifact.cast",
            {"artifactId": aid,
             "entries": [{"character": "NARRATOR", "voiceId": voice, "voiceName": "N"}]},
        )  # fmt: skip
        return await scene.settled(after=previous["doneAt"] if previous else 0.0)

    previous: dict[str, Any] | None = None
    previous = await recast("voice_a")
    assert await scene.stored("artifact.cast.changed") == 1
    previous = await recast("voice_a")  # re-armed, read, finished again: nothing to publish
    assert await scene.stored("artifact.cast.changed") == 1
    await recast("voice_b")
    assert await scene.stored("artifact.cast.changed") == 2
    chain = scene.facet("cast")
    assert [_voices(d["snapshot"])["NARRATOR"] for d in chain] == ["voice_a", "voice_b"]
    assert _chained(chain)


async def test_watch_add_follows_a_release_made_elsewhere_until_published(
    scene: Scene, story_client: Any
) -> None:
    """A release created and published straight on the API (not through the bridge): watch.add
    with resource release and its seriesId lists it in admin.watches and follows it to
    release.published, chained; a release missing from its series is not found."""
    body = {"title": "Episode 9", "sourceArtifactId": scene.artifact_id, "type": "episode",
            "seasonNumber": 1}  # fmt: skip
    made = await story_client.create_release("ser_elsewhere", body, idempotency_key="t-rel-create")
    release = made.raw["release"]
    rid = release["id"]
    added = await scene.ok(
        "watch.add", {"resource": "release", "id": rid, "seriesId": "ser_elsewhere"}
    )
    assert added == {"watching": True, "resource": "release", "id": rid, "projectId": None,
                     "seriesId": "ser_elsewhere"}  # fmt: skip
    assert await scene.watch_of("release", rid) is not None
    await story_client.publish_release(rid, {}, idempotency_key="t-rel-publish")

    def published() -> bool:
        return any(m.subject == SUBJECTS.event("release.published") for m in scene.events.messages)

    assert await scene.events.wait_for(published, timeout=60)
    chain = [json.loads(m.data)["data"] for m in scene.events.on("release.")]
    assert chain[-1]["status"] == "published"
    assert all(d["id"] == rid for d in chain) and _chained(chain)

    missing = await send(
        scene.nc, scene.outcomes, "request", "watch.add",
        {"resource": "release", "id": "cmrel_madeup", "seriesId": "ser_elsewhere"},
    )  # fmt: skip
    assert missing["ok"] is False
    assert (missing["error"]["code"], missing["error"]["status"]) == ("release_not_found", 404)


async def test_a_recast_after_watch_add_of_the_artifact_still_publishes_the_change(
    scene: Scene,
) -> None:
    """watch.add of the artifact (its default facets) first, finished; then artifact.voice: the
    re-armed watch follows the defaults and the cast, and publishes one artifact.cast.changed."""
    aid = scene.artifact_id
    await scene.ok("watch.add", {"resource": "artifact", "id": aid})
    first = await scene.settled()
    await scene.ok(
        "artifact.voice",
        {"artifactId": aid, "character": "NARRATOR", "voiceId": "voice_after_add",
         "voiceName": "Late"},
    )  # fmt: skip
    watch = await scene.settled(after=first["doneAt"])
    assert "cast" in watch["facets"] and "status" in watch["facets"]
    assert await scene.stored("artifact.cast.changed") == 1
    assert _voices(scene.facet("cast")[-1]["snapshot"])["NARRATOR"] == "voice_after_add"
