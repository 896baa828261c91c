"""The sandbox answers every request shape of FIELD-NOTES' "Request shapes the production client
sends" as the live API does, over HTTP with a manual clock (each state reached on purpose)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bridge.sandboxes.story import StorySandboxConfig
from tests.fixtures.sandbox import SandboxApi

BED = 2.0  # sandbox seconds per defined-clip bed (StoryDurations.music_bed)


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    return StorySandboxConfig(manual_clock=True, rate_limit_per_minute=100_000)


@pytest.fixture
def artifact(sandbox_api: SandboxApi) -> str:
    return sandbox_api.ready_artifact()[1]


def music(api: SandboxApi, aid: str) -> dict[str, Any]:
    body: dict[str, Any] = api.ok(api.get(f"/artifacts/{aid}/music"))["music"]
    return body


def error(response: httpx.Response) -> tuple[int, str, str]:
    err = response.json()["error"]
    return response.status_code, err["code"], err["message"]


class TestMusicShapes:
    def test_a_directive_streams_every_scenes_bed_one_by_one(
        self, sandbox_api: SandboxApi, artifact: str
    ) -> None:
        """{scope, mode, prompt}: musicMode defined_clips; beds go pending -> rendering -> ready one
        after another, so mid-way some are ready and others still pending."""
        res = sandbox_api.ok(
            sandbox_api.post(
                f"/artifacts/{artifact}/music",
                {"scope": "screenplay", "mode": "replace", "prompt": "low pads"},
            )
        )
        assert res["music"]["musicMode"] == "defined_clips"
        assert res["music"]["directive"] == {
            "scope": "screenplay", "mode": "replace", "prompt": "low pads"
        }  # fmt: skip
        total = res["music"]["totalScenes"]
        sandbox_api.advance(BED * 2.5)
        statuses = [c["status"] for c in music(sandbox_api, artifact)["definedClips"]]
        assert statuses[:2] == ["ready", "ready"] and statuses[2] == "rendering"
        assert set(statuses[3:]) == {"pending"} and len(statuses) == total
        sandbox_api.advance(BED * total)
        final = music(sandbox_api, artifact)
        assert {c["status"] for c in final["definedClips"]} == {"ready"}
        assert final["status"] == "ready"

    def test_one_scenes_clip_takes_any_clip_fields(
        self, sandbox_api: SandboxApi, artifact: str
    ) -> None:
        """{sceneIndex, clip}: the clip's fields are kept; `disabled` marks the bed disabled."""
        res = sandbox_api.ok(
            sandbox_api.post(
                f"/artifacts/{artifact}/music",
                {"sceneIndex": 2, "clip": {"disabled": True, "fadeMs": 300}},
            )
        )
        bed = next(c for c in res["music"]["definedClips"] if c["sceneIndex"] == 2)
        assert bed["disabled"] is True and bed["clip"] == {"disabled": True, "fadeMs": 300}

    def test_regenerate_scenes_renders_only_the_named_beds(
        self, sandbox_api: SandboxApi, artifact: str
    ) -> None:
        """{regenerateScenes: [0, 7]}: beds for scenes 0 and 7 render, the rest are untouched."""
        sandbox_api.ok(
            sandbox_api.post(f"/artifacts/{artifact}/music", {"regenerateScenes": [0, 7]})
        )
        sandbox_api.advance(BED * 3)
        clips = music(sandbox_api, artifact)["definedClips"]
        assert [(c["sceneIndex"], c["status"]) for c in clips] == [(0, "ready"), (7, "ready")]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"clip": {"disabled": True}}, "clip"),
            ({"regenerateScenes": [99]}, "regenerateScenes"),
            ({"sceneIndex": 42, "clip": {}}, "sceneIndex"),
            ({"musicMode": "karaoke"}, "musicMode"),
        ],
    )
    def test_bad_music_shapes_are_422_naming_the_field(
        self, sandbox_api: SandboxApi, artifact: str, body: dict[str, Any], field: str
    ) -> None:
        """A clip without its scene, scenes out of range, an unknown mode: validation_failed."""
        status, code, message = error(sandbox_api.post(f"/artifacts/{artifact}/music", body))
        assert (status, code) == (422, "validation_failed") and field in message


class TestResume:
    def test_a_failed_plan_resumes_and_reaches_review(self, sandbox_api: SandboxApi) -> None:
        """POST /story-plans/{id}/resume on a FAILED plan answers {plan} PENDING, then it is
        generated again (the failure marker fires on the first run only)."""
        pid = sandbox_api.project()
        plan = sandbox_api.plan(pid, title="fail first")
        sandbox_api.advance(25)
        assert (
            sandbox_api.ok(sandbox_api.get(f"/story-plans/{plan['id']}"))["plan"]["status"]
            == "FAILED"
        )
        res = sandbox_api.ok(sandbox_api.post(f"/story-plans/{plan['id']}/resume"))
        assert res["plan"]["status"] == "PENDING"
        sandbox_api.advance(25)
        again = sandbox_api.ok(sandbox_api.get(f"/story-plans/{plan['id']}"))["plan"]
        assert again["status"] == "REQUIRES_APPROVAL"

    def test_resume_needs_an_idempotency_key(self, sandbox_api: SandboxApi) -> None:
        """Like the production client sends one: without it, 422 idempotency_key_required."""
        pid = sandbox_api.project()
        plan = sandbox_api.plan(pid)
        response = sandbox_api.post(f"/story-plans/{plan['id']}/resume", key=None)
        assert error(response)[:2] == (422, "idempotency_key_required")

    def test_a_canceled_job_cannot_resume(self, sandbox_api: SandboxApi) -> None:
        """POST /story-jobs/{id}/resume on a CANCELED job: 409 story_job_state_invalid."""
        _, plan_id = sandbox_api.approved_plan()
        job = sandbox_api.job(plan_id)
        sandbox_api.ok(sandbox_api.post(f"/story-jobs/{job['id']}/cancel"))
        assert error(sandbox_api.post(f"/story-jobs/{job['id']}/resume"))[:2] == (
            409, "story_job_state_invalid"
        )  # fmt: skip

    def test_a_running_job_resumes_as_a_no_op(self, sandbox_api: SandboxApi) -> None:
        """Resume is idempotent: a job still running is answered as it is."""
        _, plan_id = sandbox_api.approved_plan()
        job = sandbox_api.job(plan_id)
        res = sandbox_api.ok(sandbox_api.post(f"/story-jobs/{job['id']}/resume"))
        assert res["job"]["status"] == job["status"]


class TestReleases:
    def test_create_describe_publish_and_list_with_status_and_cursor(
        self, sandbox_api: SandboxApi, artifact: str
    ) -> None:
        """The publishing flow answers {release} at each step; publish goes publishing ->
        published; the list filters by status and pages with nextCursor."""
        series = "/publishing-series/ser_1/releases"
        ids = []
        for n in range(3):
            body = {"title": f"Ep {n}", "sourceArtifactId": artifact, "type": "episode",
                    "seasonNumber": 1}  # fmt: skip
            release = sandbox_api.ok(sandbox_api.post(series, body))["release"]
            assert release["status"] == "draft" and release["episodeNumber"] == n + 1
            ids.append(release["id"])
        described = sandbox_api.ok(
            sandbox_api.post(f"/publishing-releases/{ids[0]}/description/generate",
                             {"direction": "warm"})
        )["release"]  # fmt: skip
        assert described["description"]
        first = sandbox_api.ok(sandbox_api.post(f"/publishing-releases/{ids[0]}/publish", {}))
        assert first["release"]["status"] == "publishing"
        sandbox_api.advance(5)
        published = sandbox_api.ok(sandbox_api.get(series, status="published", limit=100))
        assert [r["id"] for r in published["releases"]] == [ids[0]]
        assert published["releases"][0]["sourceArtifactId"] == artifact
        page = sandbox_api.ok(sandbox_api.get(series, limit=2))
        rest = sandbox_api.ok(sandbox_api.get(series, limit=2, cursor=page["nextCursor"]))
        assert [r["id"] for r in page["releases"] + rest["releases"]] == ids
        assert rest["nextCursor"] is None

    def test_publishing_twice_changes_nothing_more(
        self, sandbox_api: SandboxApi, artifact: str
    ) -> None:
        """A second publish of a published release answers it as it is."""
        rid = sandbox_api.ok(
            sandbox_api.post("/publishing-series/s/releases",
                             {"title": "t", "sourceArtifactId": artifact})
        )["release"]["id"]  # fmt: skip
        sandbox_api.post(f"/publishing-releases/{rid}/publish", {})
        sandbox_api.advance(5)
        again = sandbox_api.ok(sandbox_api.post(f"/publishing-releases/{rid}/publish", {}))
        assert again["release"]["status"] == "published"

    def test_refresh_media_points_at_another_artifact(
        self, sandbox_api: SandboxApi, artifact: str
    ) -> None:
        """refresh-media {sourceArtifactId}: the release's source and media follow it."""
        rid = sandbox_api.ok(
            sandbox_api.post("/publishing-series/s/releases",
                             {"title": "t", "sourceArtifactId": artifact})
        )["release"]["id"]  # fmt: skip
        res = sandbox_api.ok(
            sandbox_api.post(f"/publishing-releases/{rid}/refresh-media",
                             {"sourceArtifactId": artifact})
        )  # fmt: skip
        assert res["release"]["media"]["refreshedAt"]

    @pytest.mark.parametrize(
        ("path", "body", "expected"),
        [
            ("/publishing-series/s/releases", {"title": "x" * 201, "sourceArtifactId": "a"},
             (422, "validation_failed")),
            ("/publishing-series/s/releases", {"title": "t", "sourceArtifactId": "cma_nope"},
             (404, "artifact_not_found")),
            ("/publishing-releases/cmrel_nope/publish", {}, (404, "release_not_found")),
        ],
    )  # fmt: skip
    def test_bad_release_requests_answer_the_documented_way(
        self, sandbox_api: SandboxApi, path: str, body: dict[str, Any], expected: tuple[int, str]
    ) -> None:
        """Titles over 200, unknown artifacts and unknown releases are refused."""
        assert error(sandbox_api.post(path, body))[:2] == expected


class TestArtifactSideShapes:
    def test_sfx_add_takes_duration_and_enabled_and_stays_a_draft_until_ready(
        self, sandbox_api: SandboxApi, artifact: str
    ) -> None:
        """add with generatedDurationS / enabled: a draft (no soundUrl) until its sound is made."""
        cue = sandbox_api.ok(
            sandbox_api.post(f"/artifacts/{artifact}/sfx",
                             {"op": "add", "entryIndex": 1, "label": "door",
                              "generatedDurationS": 2.5, "enabled": False})
        )["cue"]  # fmt: skip
        assert cue["isDraft"] is True and cue["soundUrl"] is None
        assert cue["generatedDurationS"] == 2.5 and cue["enabled"] is False
        sandbox_api.advance(4)
        cues = sandbox_api.ok(sandbox_api.get(f"/artifacts/{artifact}/sfx"))["sfx"]["cues"]
        assert cues[0]["isDraft"] is False and cues[0]["soundUrl"]

    def test_voice_modification_records_carry_status_and_updated_at(
        self, sandbox_api: SandboxApi, artifact: str
    ) -> None:
        """Each range's record in manifest.audio.modifications[] moves to ready with updatedAt."""
        body = {
            "startEntryIndex": 0,
            "endEntryIndex": 1,
            "effect": "autotune",
            "params": {"key": "C"},
        }
        sandbox_api.ok(sandbox_api.post(f"/artifacts/{artifact}/voice-modification", body))
        sandbox_api.advance(5)
        art = sandbox_api.ok(sandbox_api.get(f"/artifacts/{artifact}"))["artifact"]
        record = art["manifest"]["audio"]["modifications"][-1]
        assert record["status"] == "ready" and record["updatedAt"] != record["createdAt"]
        assert record["params"]["key"] == "C"

    def test_approve_takes_user_confirmed(self, sandbox_api: SandboxApi) -> None:
        """POST /story-plans/{id}/approve with {userConfirmed: true} approves."""
        pid = sandbox_api.project()
        plan = sandbox_api.plan(pid)
        sandbox_api.advance(25)
        res = sandbox_api.post(f"/story-plans/{plan['id']}/approve", {"userConfirmed": True})
        assert sandbox_api.ok(res)["plan"]["status"] == "APPROVED"


class TestShareAndGuidance:
    def test_start_live_takes_the_share_token_not_the_key(
        self, sandbox: Any, sandbox_api: SandboxApi, artifact: str
    ) -> None:
        """POST /api/share/table-read/start-live {token} answers the Daily room, without any
        Authorization header; an unknown token is 401."""
        art = sandbox_api.ok(sandbox_api.get(f"/artifacts/{artifact}"))["artifact"]
        url = f"{sandbox.url}/api/share/table-read/start-live"
        ok = httpx.post(url, json={"token": art["manifest"]["shareToken"]}, timeout=10)
        assert ok.status_code == 200 and ok.json()["dailyRoomUrl"].startswith("https://")
        bad = httpx.post(url, json={"token": "nope"}, timeout=10)
        assert bad.status_code == 401

    def test_agent_guidance_needs_story_read(self, sandbox: Any, sandbox_api: SandboxApi) -> None:
        """GET /agent-guidance answers {guidance}; without a key it is 401."""
        assert sandbox_api.ok(sandbox_api.get("/agent-guidance"))["guidance"]["sections"]
        assert httpx.get(f"{sandbox.base_url}/agent-guidance", timeout=10).status_code == 401
