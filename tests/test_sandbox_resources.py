"""The sandbox world's state machines, driven directly with a manual clock (no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.sandboxes.kit.clock import SandboxClock
from bridge.sandboxes.story.config import StorySandboxConfig
from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world import StoryWorld
from schemas.story import requests as q

LONG_TEXT = "Acme cut onboarding time by sixty percent. Customers noticed within weeks. " * 8
TARGET = {"audience": "buyers", "objective": "explain the launch", "outcome": "book a demo"}


def make_world(**overrides: Any) -> StoryWorld:
    config = StorySandboxConfig(manual_clock=True, **overrides)
    return StoryWorld(config, SandboxClock(manual=True))


def advance(world: StoryWorld, seconds: float) -> None:
    world.clock.advance(seconds)


def project(world: StoryWorld) -> str:
    return str(world.projects.create({"name": "P"})["id"])


def text_source(world: StoryWorld, project_id: str, content: str = LONG_TEXT) -> str:
    req = q.SourceCreate.model_validate({"type": "text", "content": content})
    return str(world.sources.create(project_id, req)["id"])


def plan(world: StoryWorld, project_id: str, **fields: Any) -> dict[str, Any]:
    body = {"target": TARGET, "artifactRequests": [{"type": "table_read"}], **fields}
    return world.plans.create(project_id, q.PlanCreate.model_validate(body))


def plan_ready(world: StoryWorld, project_id: str, **fields: Any) -> str:
    plan_id = str(plan(world, project_id, **fields)["id"])
    advance(world, 21)
    return plan_id


def approved_plan(world: StoryWorld) -> tuple[str, str]:
    project_id = project(world)
    plan_id = plan_ready(world, project_id)
    world.plans.approve(plan_id)
    return project_id, plan_id


def ready_artifact(world: StoryWorld) -> tuple[str, str]:
    _, plan_id = approved_plan(world)
    job = world.jobs.create(q.JobCreate(storyPlanId=plan_id))
    advance(world, 32)
    done = world.jobs.get(job["id"])
    return str(done["id"]), str(done["artifacts"][0]["id"])


def code_of(excinfo: pytest.ExceptionInfo[StorySandboxError]) -> str:
    return excinfo.value.code


class TestSources:
    def test_text_source_is_ready_at_once_with_its_facts(self) -> None:
        """Inline text is READY on create with byte size, token estimate and sha256 hash."""
        world = make_world()
        source = world.sources.get(pid := project(world), text_source(world, pid))
        assert source["status"] == "READY"
        assert source["byteSize"] == len(LONG_TEXT.encode())
        assert source["tokenEstimate"] == len(LONG_TEXT.encode()) // 4
        assert len(source["contentHash"]) == 64
        assert source["digestStatus"] == "NOT_STARTED"

    def test_digest_advances_with_the_clock_to_ready(self) -> None:
        """The digest goes PENDING, RUNNING, READY as sandbox time passes."""
        world = make_world()
        pid = project(world)
        sid = text_source(world, pid)
        seen = []
        for _ in range(4):
            advance(world, 1)
            seen.append(world.sources.get(pid, sid)["digestStatus"])
        assert seen == ["PENDING", "RUNNING", "RUNNING", "READY"]
        assert world.sources.get(pid, sid)["digest"]["claims"]

    def test_short_text_digest_is_skipped(self) -> None:
        """Text under 200 characters is not worth a digest: SKIPPED."""
        world = make_world()
        pid = project(world)
        sid = text_source(world, pid, "too short")
        advance(world, 5)
        assert world.sources.get(pid, sid)["digestStatus"] == "SKIPPED"

    def test_pdf_source_extracts_with_page_count(self) -> None:
        """A pdf goes PENDING, EXTRACTING, READY with metadata.pageCount."""
        world = make_world()
        pid = project(world)
        req = q.SourceCreate.model_validate({"type": "pdf", "uri": "https://example.com/a.pdf"})
        sid = world.sources.create(pid, req)["id"]
        assert world.sources.get(pid, sid)["status"] == "PENDING"
        advance(world, 2)
        assert world.sources.get(pid, sid)["status"] == "EXTRACTING"
        advance(world, 2)
        source = world.sources.get(pid, sid)
        assert (source["status"], source["metadata"]["pageCount"]) == ("READY", 12)

    def test_url_on_a_failing_host_fails_with_fetch_code(self) -> None:
        """A host containing 'fail' lands at FAILED with failureCode source_fetch_failed."""
        world = make_world()
        pid = project(world)
        req = q.SourceCreate.model_validate({"type": "url", "uri": "https://fail.example.com/x"})
        sid = world.sources.create(pid, req)["id"]
        advance(world, 5)
        assert world.sources.get(pid, sid)["failureCode"] == "source_fetch_failed"

    @pytest.mark.parametrize(
        "uri",
        [
            "http://localhost/x",
            "http://169.254.169.254/latest",
            "http://10.0.0.1/",
            "http://metadata.google.internal/",
        ],
    )
    def test_ssrf_addresses_are_rejected_synchronously(self, uri: str) -> None:
        """Private, loopback, link-local and metadata hosts: 422 source_fetch_failed ip_blocked."""
        world = make_world()
        pid = project(world)
        req = q.SourceCreate.model_validate({"type": "url", "uri": uri})
        with pytest.raises(StorySandboxError) as err:
            world.sources.create(pid, req)
        assert (err.value.code, err.value.details) == (
            "source_fetch_failed",
            {"reason": "ip_blocked"},
        )

    def test_oversized_content_is_source_too_large_before_validation(self) -> None:
        """Over 1,000,000 bytes: source_too_large with details.maxBytes."""
        world = make_world()
        with pytest.raises(StorySandboxError) as err:
            world.sources.precheck({"type": "text", "content": "x" * 1_000_001})
        assert (err.value.code, err.value.details) == ("source_too_large", {"maxBytes": 1_000_000})

    def test_planned_or_unknown_type_is_unsupported(self) -> None:
        """A type flipped to planned, or an unknown one, is source_type_unsupported."""
        world = make_world()
        world.account.source_types["pdf"] = "planned"
        for kind in ("pdf", "video"):
            with pytest.raises(StorySandboxError) as err:
                world.sources.precheck({"type": kind, "uri": "https://example.com"})
            assert err.value.code == "source_type_unsupported"

    def test_deleted_source_reads_404_and_leaves_the_count(self) -> None:
        """DELETE soft-deletes: the source 404s and sourceCount drops."""
        world = make_world()
        pid = project(world)
        sid = text_source(world, pid)
        assert world.projects.get(pid)["sourceCount"] == 1
        world.sources.delete(pid, sid)
        with pytest.raises(StorySandboxError) as err:
            world.sources.get(pid, sid)
        assert err.value.code == "source_not_found"
        assert world.projects.get(pid)["sourceCount"] == 0


class TestProjects:
    def test_archive_sets_archived_at_and_delete_hides(self) -> None:
        """archived:true stamps archivedAt; DELETE makes later reads project_not_found."""
        world = make_world()
        pid = project(world)
        assert world.projects.update(pid, {"archived": True})["archivedAt"]
        world.projects.delete(pid)
        with pytest.raises(StorySandboxError) as err:
            world.projects.get(pid)
        assert err.value.code == "project_not_found"

    def test_pagination_walks_every_page_once(self) -> None:
        """45 projects in pages of 20: 20, 20, 5, then nextCursor null."""
        world = make_world()
        ids = [project(world) for _ in range(45)]
        seen: list[str] = []
        cursor: str | None = None
        sizes = []
        while True:
            page, cursor = world.projects.page(
                {"limit": "20", **({"cursor": cursor} if cursor else {})}
            )
            sizes.append(len(page))
            seen += [p["id"] for p in page]
            if cursor is None:
                break
        assert (sizes, seen) == ([20, 20, 5], ids)

    def test_limit_over_100_is_validation_failed(self) -> None:
        """limit=101 names the limit field."""
        world = make_world()
        with pytest.raises(StorySandboxError) as err:
            world.projects.page({"limit": "101"})
        assert (err.value.code, err.value.details) == ("validation_failed", {"field": "limit"})

    def test_series_bible_generate_then_patch_bumps_version(self) -> None:
        """null before any; POST generates v1 with episodes; PATCH merges content as v2."""
        world = make_world()
        pid = project(world)
        assert world.documents.get(pid, "series_bible") is None
        doc = world.documents.generate(pid, "series_bible", "ten episodes")
        assert (doc["currentVersion"], doc["content"]["episodes"][0]["title"]) == (1, "Pilot")
        patched = world.documents.patch(pid, "series_bible", None, {"tone": "dry"})
        assert (patched["currentVersion"], patched["content"]["tone"]) == (2, "dry")
        assert patched["content"]["format"] == doc["content"]["format"]


class TestPlans:
    def test_plan_runs_to_requires_approval_with_blueprint(self) -> None:
        """PENDING, RUNNING, then REQUIRES_APPROVAL with plan.plan.scriptBlueprint and quote 11."""
        world = make_world()
        created = plan(world, project(world), autoApprove=True)
        assert (created["status"], created["quote"]["total"]) == ("PENDING", 11)
        advance(world, 1)
        assert world.plans.get(created["id"])["status"] == "RUNNING"
        advance(world, 20)
        ready = world.plans.get(created["id"])
        assert ready["status"] == "REQUIRES_APPROVAL"  # table_read never auto-approves
        assert ready["plan"]["scriptBlueprint"]["sceneOutline"]
        assert ready["plan"]["journey"]["beats"][0]["role"] == "hook"

    def test_planned_artifact_type_fails_the_plan(self) -> None:
        """A planned type (pitch_deck) fails with artifact_type_unavailable."""
        world = make_world()
        pid = project(world)
        plan_id = plan_ready(world, pid, artifactRequests=[{"type": "pitch_deck"}])
        failed = world.plans.get(plan_id)
        assert (failed["status"], failed["failureCode"]) == ("FAILED", "artifact_type_unavailable")
        with pytest.raises(StorySandboxError) as err:
            world.plans.approve(plan_id)
        assert err.value.code == "story_plan_failed"

    def test_fail_title_fails_with_story_plan_failed(self) -> None:
        """A title containing 'fail' is the test hook for story_plan_failed."""
        world = make_world()
        plan_id = plan_ready(world, project(world), title="please fail")
        assert world.plans.get(plan_id)["failureCode"] == "story_plan_failed"

    def test_newer_plan_supersedes_older_live_ones(self) -> None:
        """Creating a plan makes the project's APPROVED plan SUPERSEDED; REJECTED stays."""
        world = make_world()
        pid = project(world)
        first = plan_ready(world, pid)
        world.plans.approve(first)
        second = plan_ready(world, pid)
        world.plans.reject(second, "no")
        plan(world, pid)
        assert world.plans.get(first)["status"] == "SUPERSEDED"
        assert world.plans.get(second)["status"] == "REJECTED"

    def test_approve_and_reject_state_errors(self) -> None:
        """Approving PENDING is validation_failed; rejecting REJECTED is story_plan_state_invalid."""
        world = make_world()
        pid = project(world)
        pending = plan(world, pid)["id"]
        with pytest.raises(StorySandboxError) as err:
            world.plans.approve(pending)
        assert (err.value.code, err.value.details) == (
            "validation_failed",
            {"status": "PENDING", "allowed": ["REQUIRES_APPROVAL"]},
        )
        world.plans.reject(pending, "tone")
        with pytest.raises(StorySandboxError) as err:
            world.plans.reject(pending, "again")
        assert err.value.code == "story_plan_state_invalid"
        assert err.value.details is not None and err.value.details["status"] == "REJECTED"

    def test_missing_plan_codes_follow_the_reference(self) -> None:
        """GET reads project_not_found; approve reads story_plan_not_found."""
        world = make_world()
        with pytest.raises(StorySandboxError) as err:
            world.plans.get("cmpl_missing")
        assert err.value.code == "project_not_found"
        with pytest.raises(StorySandboxError) as err:
            world.plans.approve("cmpl_missing")
        assert err.value.code == "story_plan_not_found"

    def test_unready_source_is_source_not_found(self) -> None:
        """A sourceId still PENDING (url) cannot back a plan."""
        world = make_world()
        pid = project(world)
        req = q.SourceCreate.model_validate({"type": "url", "uri": "https://example.com/a"})
        sid = world.sources.create(pid, req)["id"]
        with pytest.raises(StorySandboxError) as err:
            plan(world, pid, sourceIds=[sid])
        assert err.value.code == "source_not_found"


class TestJobs:
    def test_job_runs_reserved_running_ready_with_manifest(self) -> None:
        """RESERVED, RUNNING (artifact RUNNING), READY with the table_read manifest."""
        world = make_world()
        _, plan_id = approved_plan(world)
        job = world.jobs.create(q.JobCreate(storyPlanId=plan_id))
        assert (job["status"], job["artifacts"]) == ("RESERVED", [])
        advance(world, 2)
        running = world.jobs.get(job["id"])
        assert (running["status"], running["artifacts"][0]["status"]) == ("RUNNING", "RUNNING")
        advance(world, 30)
        done = world.jobs.get(job["id"])
        manifest = done["artifacts"][0]["manifest"]
        assert done["status"] == "READY"
        assert manifest["audio"]["mode"] == "live_on_demand"
        assert manifest["video"] == {
            "status": "not_rendered",
            "renderUrl": f"/api/v1/artifacts/{done['artifacts'][0]['id']}/render-video",
            "url": None,
        }
        assert done["artifacts"][0]["tableReadShareLinkId"]

    def test_list_and_get_agree_after_time_passes(self) -> None:
        """A list read materialises the same transitions a get read would."""
        world = make_world()
        pid, plan_id = approved_plan(world)
        job = world.jobs.create(q.JobCreate(storyPlanId=plan_id))
        advance(world, 40)
        listed, _ = world.jobs.page({"projectId": pid})
        assert listed[0]["status"] == world.jobs.get(job["id"])["status"] == "READY"

    def test_credits_reserve_then_settle(self) -> None:
        """Create reserves 11; READY settles it; the balance drops by 11 once."""
        world = make_world(initial_credits=100)
        _, plan_id = approved_plan(world)
        job = world.jobs.create(q.JobCreate(storyPlanId=plan_id))
        assert world.account.credits()["balance"] == 89
        advance(world, 40)
        credits = world.jobs.get(job["id"])["credits"]
        assert credits == {"quoted": 11, "reserved": 11, "settled": 11, "released": 0}
        assert world.account.credits()["balance"] == 89

    def test_cancel_releases_and_is_idempotent(self) -> None:
        """Cancel RESERVED: CANCELED, credits back; cancel again is a no-op; READY is 409."""
        world = make_world(initial_credits=50)
        _, plan_id = approved_plan(world)
        job = world.jobs.create(q.JobCreate(storyPlanId=plan_id))
        canceled = world.jobs.cancel(job["id"])
        assert (canceled["status"], canceled["credits"]["released"]) == ("CANCELED", 11)
        assert world.account.credits()["balance"] == 50
        assert world.jobs.cancel(job["id"])["status"] == "CANCELED"

    def test_cancel_ready_job_is_state_invalid(self) -> None:
        """A READY job cannot be canceled: 409 with details.status and allowed."""
        world = make_world()
        job_id, _ = ready_artifact(world)
        with pytest.raises(StorySandboxError) as err:
            world.jobs.cancel(job_id)
        assert err.value.code == "story_job_state_invalid"
        assert err.value.details == {
            "status": "READY",
            "allowed": ["PENDING", "RESERVED", "RUNNING"],
        }

    def test_insufficient_credits_names_required_and_available(self) -> None:
        """Balance 5 against a quote of 11: 402 with details {required, available}."""
        world = make_world()
        _, plan_id = approved_plan(world)
        world.account.set_balance(5)
        with pytest.raises(StorySandboxError) as err:
            world.jobs.create(q.JobCreate(storyPlanId=plan_id))
        assert (err.value.status, err.value.details) == (402, {"required": 11, "available": 5})

    def test_job_needs_an_approved_known_plan(self) -> None:
        """Unknown plan: story_job_not_found; unapproved: story_job_state_invalid."""
        world = make_world()
        with pytest.raises(StorySandboxError) as err:
            world.jobs.create(q.JobCreate(storyPlanId="cmpl_x"))
        assert err.value.code == "story_job_not_found"
        plan_id = plan_ready(world, project(world))
        with pytest.raises(StorySandboxError) as err:
            world.jobs.create(q.JobCreate(storyPlanId=plan_id))
        assert err.value.details == {"status": "REQUIRES_APPROVAL", "allowed": ["APPROVED"]}

    def test_project_mismatch_is_validation_failed(self) -> None:
        """A projectId that is not the plan's project names projectId."""
        world = make_world()
        _, plan_id = approved_plan(world)
        with pytest.raises(StorySandboxError) as err:
            world.jobs.create(q.JobCreate(storyPlanId=plan_id, projectId="cmp_other"))
        assert (err.value.code, err.value.details) == ("validation_failed", {"field": "projectId"})

    def test_two_artifacts_pass_through_partial(self) -> None:
        """With two artifacts the job is PARTIAL while one is READY and the other runs."""
        world = make_world()
        _, plan_id = approved_plan(world)
        requests = [{"type": "table_read"}, {"type": "table_read", "mode": "podcast"}]
        job = world.jobs.create(
            q.JobCreate.model_validate({"storyPlanId": plan_id, "artifactRequests": requests})
        )
        advance(world, 2 + 16)
        assert world.jobs.get(job["id"])["status"] == "PARTIAL"
        advance(world, 15)
        assert world.jobs.get(job["id"])["status"] == "READY"

    def test_jobs_list_by_plan_paginates(self) -> None:
        """25 jobs on one plan list as 20 + 5 through the storyPlanId filter."""
        world = make_world(initial_credits=10_000)
        _, plan_id = approved_plan(world)
        for _ in range(25):
            world.jobs.create(q.JobCreate(storyPlanId=plan_id))
        first, cursor = world.jobs.page({"storyPlanId": plan_id})
        assert cursor is not None
        second, last = world.jobs.page({"storyPlanId": plan_id, "cursor": cursor})
        assert (len(first), len(second), last) == (20, 5, None)


class TestArtifacts:
    def test_refine_bumps_version_and_revision_one_is_original(self) -> None:
        """Refine: RUNNING then READY v2, same URLs, ?revision=1 returns the first manifest."""
        world = make_world()
        _, art_id = ready_artifact(world)
        original = world.artifacts.get(art_id)
        refine_job = world.jobs.refine(art_id, q.ArtifactRefine(instruction="warmer"))
        assert refine_job["status"] == "RESERVED"
        advance(world, 2)
        assert world.artifacts.get(art_id)["status"] == "RUNNING"
        advance(world, 30)
        latest = world.artifacts.get(art_id)
        assert (latest["currentVersion"], latest["refineCount"]) == (2, 1)
        assert latest["manifest"]["theaterUrl"] == original["manifest"]["theaterUrl"]
        first = world.artifacts.get(art_id, "1")
        assert first["manifest"]["revision"] == 1 and first["currentVersion"] == 2
        assert world.jobs.get(refine_job["id"])["artifacts"][0]["id"] == art_id
        with pytest.raises(StorySandboxError) as err:
            world.artifacts.get(art_id, "9")
        assert err.value.code == "validation_failed"

    def test_refine_needs_a_ready_artifact_and_credits(self) -> None:
        """Refining a RUNNING artifact is artifact_not_ready; short credits are 402."""
        world = make_world()
        _, art_id = ready_artifact(world)
        world.jobs.refine(art_id, q.ArtifactRefine(instruction="a"))
        advance(world, 2)
        with pytest.raises(StorySandboxError) as err:
            world.jobs.refine(art_id, q.ArtifactRefine(instruction="b"))
        assert (err.value.code, err.value.details) == ("artifact_not_ready", {"status": "RUNNING"})
        advance(world, 30)
        world.account.set_balance(3)
        with pytest.raises(StorySandboxError) as err:
            world.jobs.refine(art_id, q.ArtifactRefine(instruction="c"))
        assert err.value.details == {"required": 8, "available": 3}

    def test_finalize_audio_stages_once_and_charges_once(self) -> None:
        """queued, rendering, uploading, complete with a recording URL; a replay charges nothing."""
        world = make_world(initial_credits=100)
        _, art_id = ready_artifact(world)
        balance = world.account.credits()["balance"]
        assert world.renders.finalize_audio(art_id)["finalize"]["status"] == "queued"
        stages = []
        for _ in range(3):
            advance(world, 3)
            stages.append(world.artifacts.get(art_id)["manifest"]["audio"]["finalize"]["status"])
        assert stages == ["rendering", "uploading", "complete"]
        assert world.renders.finalize_audio(art_id)["finalize"]["status"] == "complete"
        audio = world.artifacts.get(art_id)["manifest"]["audio"]
        assert audio["recordingUrl"] and audio["recordingDurationMs"]
        assert world.account.credits()["balance"] == balance - 6

    def test_finalize_without_recording_needs_recording_for_free(self) -> None:
        """No recording: needs_recording and no credits taken."""
        world = make_world(recording_available=False)
        _, art_id = ready_artifact(world)
        balance = world.account.credits()["balance"]
        assert world.renders.finalize_audio(art_id)["finalize"] == {"status": "needs_recording"}
        assert world.account.credits()["balance"] == balance

    def test_music_scene_edit_makes_a_complete_video_stale(self) -> None:
        """Render video to complete, then a scene edit marks it stale."""
        world = make_world()
        _, art_id = ready_artifact(world)
        assert world.renders.render_video(art_id)["status"] == "queued"
        advance(world, 10)
        assert world.artifacts.get(art_id)["manifest"]["video"]["status"] == "complete"
        edit = world.music.post(art_id, q.ArtifactMusic(sceneIndex=2, weight=0.85))
        assert edit["adaptiveSceneDirection"]["weight"] == 0.85
        assert world.artifacts.get(art_id)["manifest"]["video"]["status"] == "stale"

    def test_music_percent_is_clamped_fraction(self) -> None:
        """35 means 0.35; music goes generating then ready."""
        world = make_world()
        _, art_id = ready_artifact(world)
        assert (
            world.music.post(art_id, q.ArtifactMusic(musicCoveragePercent=35))["coveragePercent"]
            == 0.35
        )
        assert world.music.get(art_id)["status"] == "generating"
        advance(world, 6)
        assert world.music.get(art_id)["status"] == "ready"

    def test_sfx_add_update_remove_and_unknown_id(self) -> None:
        """A cue is added as a draft, updated, removed; an unknown id names the field."""
        world = make_world()
        _, art_id = ready_artifact(world)
        cue = world.sfx.post(
            art_id, q.ArtifactSfx.model_validate({"op": "add", "entryIndex": 3, "label": "knock"})
        )["cue"]
        assert cue["isDraft"] is True
        world.sfx.post(
            art_id, q.ArtifactSfx.model_validate({"op": "update", "id": cue["id"], "label": "bang"})
        )
        assert world.sfx.get(art_id)["cues"][0]["label"] == "bang"
        assert (
            world.sfx.post(art_id, q.ArtifactSfx.model_validate({"op": "remove", "id": cue["id"]}))[
                "removed"
            ]
            == cue["id"]
        )
        with pytest.raises(StorySandboxError) as err:
            world.sfx.post(art_id, q.ArtifactSfx.model_validate({"op": "remove", "id": "sfx_nope"}))
        assert err.value.details == {"field": "id"}

    def test_coverage_generates_then_completes(self) -> None:
        """null before any; generating; complete with a report after the coverage duration."""
        world = make_world()
        _, art_id = ready_artifact(world)
        assert world.coverage.get(art_id, None) is None
        started = world.coverage.start(art_id, "midpoint")
        advance(world, 8)
        report = world.coverage.get(art_id, started["reportId"])
        assert report is not None and report["status"] == "complete"
        assert report["report"]["verdict"]

    def test_cast_restyle_queues_every_avatar_until_ready(self) -> None:
        """avatarStyle alone re-renders every character: queued, then ready."""
        world = make_world()
        _, art_id = ready_artifact(world)
        result = world.cast.recast(art_id, "noir ink", [])
        assert {a["status"] for a in result["avatars"]} == {"queued"}
        advance(world, 5)
        cast = world.cast.get(art_id)
        assert cast["avatarStyle"] == "noir ink"
        assert {c["avatarStatus"] for c in cast["cast"]} == {"ready"}

    def test_voice_recast_updates_the_manifest_voice_map(self) -> None:
        """POST voice reassigns in place; the manifest's voiceMap shows it."""
        world = make_world()
        _, art_id = ready_artifact(world)
        world.cast.set_voice(
            art_id, q.ArtifactVoice(character="NARRATOR", voiceId="v1", voiceName="Warm")
        )
        voice_map = world.artifacts.get(art_id)["manifest"]["audio"]["voiceMap"]
        assert voice_map["NARRATOR"] == {"voiceId": "v1", "voiceName": "Warm"}

    def test_a_character_voiced_on_one_artifact_stays_out_of_every_other_cast(self) -> None:
        """Voicing a new character adds them to that artifact's cast only, in this world or
        another: two table reads of the same mode do not share one cast."""
        world = make_world()
        _, first = ready_artifact(world)
        world.cast.set_voice(
            first, q.ArtifactVoice(character="GHOST", voiceId="v9", voiceName="Pale")
        )
        assert "GHOST" in [c["character"] for c in world.cast.get(first)["cast"]]
        other = make_world(seed=1)
        _, second = ready_artifact(other)
        assert "GHOST" not in [c["character"] for c in other.cast.get(second)["cast"]]
        assert "GHOST" not in other.artifacts.get(second)["manifest"]["audio"]["voiceMap"]

    def test_voice_modification_tracked_in_manifest(self) -> None:
        """A modification is queued, then ready, in manifest.audio.modifications."""
        world = make_world()
        _, art_id = ready_artifact(world)
        mod = world.script.modify_voice(
            art_id, q.ArtifactVoiceModification(startEntryIndex=1, endEntryIndex=3)
        )
        advance(world, 4)
        mods = world.artifacts.get(art_id)["manifest"]["audio"]["modifications"]
        assert (mods[0]["id"], mods[0]["status"]) == (mod["modificationId"], "ready")

    def test_script_by_page_has_entries(self) -> None:
        """scope=page&page=1 returns that page's entries and the scene list."""
        world = make_world()
        _, art_id = ready_artifact(world)
        script = world.script.get(art_id, {"scope": "page", "page": "1"})
        assert script["selection"]["pageNumber"] == 1
        assert all(e["page"] == 1 for e in script["selection"]["entries"])
        assert len(script["scenes"]) == 8

    def test_operations_on_missing_or_failed_artifacts(self) -> None:
        """Missing: artifact_not_found; FAILED: artifact_generation_failed."""
        world = make_world()
        with pytest.raises(StorySandboxError) as err:
            world.renders.finalize_audio("cma_missing")
        assert err.value.code == "artifact_not_found"
        _, plan_id = approved_plan(world)
        requests = [{"type": "table_read", "notes": "please fail"}]
        job = world.jobs.create(
            q.JobCreate.model_validate({"storyPlanId": plan_id, "artifactRequests": requests})
        )
        advance(world, 40)
        done = world.jobs.get(job["id"])
        assert (done["status"], done["credits"]["released"]) == ("FAILED", 11)
        with pytest.raises(StorySandboxError) as err:
            world.renders.render_video(done["artifacts"][0]["id"])
        assert err.value.code == "artifact_generation_failed"
