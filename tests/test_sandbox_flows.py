"""State machines over real HTTP on a manual clock: each step appears only when time is advanced."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer
from tests.fixtures.sandbox import JOB_DONE, PLAN_DONE, TEXT, SandboxApi


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    return StorySandboxConfig(manual_clock=True, rate_limit_per_minute=100_000)


def balance(api: SandboxApi) -> int:
    return int(api.ok(api.get("/credits"))["credits"]["balance"])


def job(api: SandboxApi, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.ok(api.get(f"/story-jobs/{job_id}"))["job"]
    return body


def artifact(api: SandboxApi, artifact_id: str, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = api.ok(api.get(f"/artifacts/{artifact_id}", **params))["artifact"]
    return body


def test_clock_moves_only_when_advanced(sandbox: StorySandboxServer) -> None:
    """A manual clock reads the same until POST /clock/advance moves it."""
    before = sandbox.control.get("/clock").json()
    assert before["manual"] is True
    sandbox.control.post("/clock/advance", json={"seconds": 12.5}).raise_for_status()
    assert sandbox.control.get("/clock").json()["now"] == before["now"] + 12.5


def test_url_source_extracts_then_digests(sandbox_api: SandboxApi) -> None:
    """url: PENDING -> EXTRACTING -> READY, then digest PENDING -> RUNNING -> READY."""
    project_id = sandbox_api.project()
    body = {"type": "url", "uri": "https://example.com/article"}
    source = sandbox_api.ok(sandbox_api.post(f"/story-projects/{project_id}/sources", body))
    path = f"/story-projects/{project_id}/sources/{source['source']['id']}"
    seen = []
    for _ in range(10):  # extraction 4 s, then the digest 4 s
        current = sandbox_api.ok(sandbox_api.get(path))["source"]
        seen.append((current["status"], current["digestStatus"]))
        sandbox_api.advance(1)
    assert seen[0] == ("PENDING", "NOT_STARTED")
    assert ("EXTRACTING", "NOT_STARTED") in seen
    assert ("READY", "RUNNING") in seen
    assert seen[-1] == ("READY", "READY")
    final = sandbox_api.ok(sandbox_api.get(path))["source"]
    assert final["digest"]["summary"] and len(final["contentHash"]) == 64


def test_table_read_plan_stops_for_approval_even_with_auto_approve(
    sandbox_api: SandboxApi,
) -> None:
    """PENDING -> RUNNING -> REQUIRES_APPROVAL with plan.plan.scriptBlueprint; approve -> APPROVED."""
    plan = sandbox_api.plan(sandbox_api.project(), autoApprove=True)
    assert (plan["status"], plan["quote"]["total"]) == ("PENDING", 11)
    path = f"/story-plans/{plan['id']}"
    sandbox_api.advance(1)
    assert sandbox_api.ok(sandbox_api.get(path))["plan"]["status"] == "RUNNING"
    sandbox_api.advance(PLAN_DONE)
    ready = sandbox_api.ok(sandbox_api.get(path))["plan"]
    assert ready["status"] == "REQUIRES_APPROVAL"
    assert ready["plan"]["scriptBlueprint"]["sceneOutline"]
    approved = sandbox_api.ok(sandbox_api.post(f"{path}/approve"))["plan"]
    assert (approved["status"], approved["approvedAt"] is not None) == ("APPROVED", True)
    again = sandbox_api.post(f"{path}/approve")
    assert again.json()["plan"]["status"] == "APPROVED"  # idempotent


def test_a_newer_plan_supersedes_the_older_one(sandbox_api: SandboxApi) -> None:
    """The first plan of the project is SUPERSEDED once a second is created; the list shows both."""
    project_id = sandbox_api.project()
    first = sandbox_api.plan(project_id)["id"]
    sandbox_api.advance(PLAN_DONE)
    second = sandbox_api.plan(project_id)["id"]
    plans = sandbox_api.ok(sandbox_api.get(f"/story-projects/{project_id}/story-plans"))["plans"]
    assert [(p["id"], p["status"]) for p in plans] == [(first, "SUPERSEDED"), (second, "PENDING")]


def test_job_reserves_runs_settles(sandbox_api: SandboxApi) -> None:
    """RESERVED (11 reserved) -> RUNNING -> READY (11 settled); the balance drops by the quote."""
    _, plan_id = sandbox_api.approved_plan()
    start = balance(sandbox_api)
    created = sandbox_api.job(plan_id)
    assert (created["status"], balance(sandbox_api)) == ("RESERVED", start - 11)
    sandbox_api.advance(2)
    assert job(sandbox_api, created["id"])["status"] == "RUNNING"
    sandbox_api.advance(JOB_DONE)
    done = job(sandbox_api, created["id"])
    assert done["status"] == "READY" and done["completedAt"]
    assert done["credits"] == {"quoted": 11, "reserved": 11, "settled": 11, "released": 0}
    assert balance(sandbox_api) == start - 11
    manifest = done["artifacts"][0]["manifest"]
    assert manifest["video"]["status"] == "not_rendered"
    assert manifest["audio"]["liveUrl"].startswith("https://sleeperhit.studio/share/")


def test_cancel_releases_and_is_idempotent_then_terminal_jobs_refuse(
    sandbox_api: SandboxApi,
) -> None:
    """Cancel a RUNNING job: credits back, CANCELED twice; a READY job is 409 with details."""
    _, plan_id = sandbox_api.approved_plan()
    start = balance(sandbox_api)
    running = sandbox_api.job(plan_id)["id"]
    sandbox_api.advance(3)
    canceled = sandbox_api.ok(sandbox_api.post(f"/story-jobs/{running}/cancel"))["job"]
    assert canceled["status"] == "CANCELED" and balance(sandbox_api) == start
    assert sandbox_api.post(f"/story-jobs/{running}/cancel").json()["job"]["status"] == "CANCELED"
    finished = sandbox_api.job(plan_id)["id"]
    sandbox_api.advance(JOB_DONE)
    refused = sandbox_api.post(f"/story-jobs/{finished}/cancel")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"] == {
        "status": "READY",
        "allowed": ["PENDING", "RESERVED", "RUNNING"],
    }


def test_two_artifacts_pass_through_partial(sandbox_api: SandboxApi) -> None:
    """With two table reads the job is PARTIAL once the first is READY, then READY."""
    _, plan_id = sandbox_api.approved_plan()
    requests = [{"type": "table_read"}, {"type": "table_read", "mode": "podcast"}]
    job_id = sandbox_api.job(plan_id, artifactRequests=requests)["id"]
    sandbox_api.advance(2 + 15 + 1)
    assert job(sandbox_api, job_id)["status"] == "PARTIAL"
    sandbox_api.advance(20)
    assert [a["status"] for a in job(sandbox_api, job_id)["artifacts"]] == ["READY", "READY"]
    assert job(sandbox_api, job_id)["status"] == "READY"


def test_jobs_list_filters_and_pages(sandbox_api: SandboxApi) -> None:
    """?storyPlanId= lists only that plan's jobs, paged by limit with an opaque cursor."""
    _, plan_id = sandbox_api.approved_plan()
    ids = [sandbox_api.job(plan_id)["id"] for _ in range(3)]
    _, other_plan = sandbox_api.approved_plan()
    sandbox_api.job(other_plan)
    page = sandbox_api.ok(sandbox_api.get("/story-jobs", storyPlanId=plan_id, limit=2))
    rest = sandbox_api.ok(
        sandbox_api.get("/story-jobs", storyPlanId=plan_id, limit=2, cursor=page["nextCursor"])
    )
    assert [j["id"] for j in page["jobs"] + rest["jobs"]] == ids
    assert rest["nextCursor"] is None
    everything = sandbox_api.ok(sandbox_api.get("/story-jobs", limit=100))["jobs"]
    assert len(everything) == 4


def test_refine_bumps_the_version_and_revision_one_is_the_original(
    sandbox_api: SandboxApi,
) -> None:
    """Refine returns {storyJob}; once READY the artifact is v2, ?revision=1 the original."""
    _, artifact_id = sandbox_api.ready_artifact()
    original = artifact(sandbox_api, artifact_id)
    before = balance(sandbox_api)
    body = {"instruction": "make the host warmer", "scope": "screenplay"}
    refine = sandbox_api.ok(sandbox_api.post(f"/artifacts/{artifact_id}/refine", body))
    assert refine["storyJob"]["status"] == "RESERVED" and balance(sandbox_api) == before - 8
    sandbox_api.advance(JOB_DONE)
    assert job(sandbox_api, refine["storyJob"]["id"])["status"] == "READY"
    latest = artifact(sandbox_api, artifact_id)
    assert (latest["currentVersion"], latest["refineCount"]) == (2, 1)
    assert latest["manifest"]["theaterUrl"] == original["manifest"]["theaterUrl"]
    first = artifact(sandbox_api, artifact_id, revision=1)
    assert first["manifest"]["revision"] == 1 and first["currentVersion"] == 2


def test_finalize_audio_walks_its_stages_and_charges_once(sandbox_api: SandboxApi) -> None:
    """queued -> rendering -> uploading -> complete with a recording; re-finalize is free."""
    _, artifact_id = sandbox_api.ready_artifact()
    before = balance(sandbox_api)
    path = f"/artifacts/{artifact_id}/finalize"
    first = sandbox_api.ok(sandbox_api.post(path, {"mode": "audio"}))
    assert first == {"artifactId": artifact_id, "mode": "audio", "finalize": {"status": "queued"}}
    stages = []
    for _ in range(4):
        audio = artifact(sandbox_api, artifact_id)["manifest"]["audio"]
        stages.append(audio["finalize"]["status"])
        sandbox_api.advance(3)
    assert stages == ["queued", "rendering", "uploading", "complete"]
    audio = artifact(sandbox_api, artifact_id)["manifest"]["audio"]
    assert audio["recordingUrl"].endswith(".mp3") and audio["recordingDurationMs"] > 0
    again = sandbox_api.ok(sandbox_api.post(path, {"mode": "audio"}))
    assert again["finalize"]["status"] == "complete"
    assert again["finalize"]["recordingUrl"] == audio["recordingUrl"]  # as seen in production
    assert balance(sandbox_api) == before - 6


def test_finalize_without_a_recording_needs_one_and_costs_nothing(
    sandbox: StorySandboxServer, sandbox_api: SandboxApi
) -> None:
    """PUT /_sandbox/recording false: finalize answers needs_recording, the balance is unchanged."""
    _, artifact_id = sandbox_api.ready_artifact()
    sandbox.control.put("/recording", json={"available": False}).raise_for_status()
    before = balance(sandbox_api)
    answer = sandbox_api.ok(sandbox_api.post(f"/artifacts/{artifact_id}/finalize", {}))
    assert answer["finalize"]["status"] == "needs_recording"
    assert balance(sandbox_api) == before


def test_video_render_and_stale_after_a_scene_edit(sandbox_api: SandboxApi) -> None:
    """finalize mode video: queued -> rendering -> complete (12 credits); a scene edit -> stale."""
    _, artifact_id = sandbox_api.ready_artifact()
    before = balance(sandbox_api)
    answer = sandbox_api.ok(
        sandbox_api.post(f"/artifacts/{artifact_id}/finalize", {"mode": "video"})
    )
    assert answer["finalize"]["status"] == "queued"
    statuses = []
    for _ in range(3):
        statuses.append(artifact(sandbox_api, artifact_id)["manifest"]["video"]["status"])
        sandbox_api.advance(5)
    assert statuses == ["queued", "rendering", "complete"]
    assert balance(sandbox_api) == before - 12
    edit = {"sceneIndex": 2, "enabled": False}
    scene = sandbox_api.ok(sandbox_api.post(f"/artifacts/{artifact_id}/music", edit))
    assert scene["status"] == "ready"
    assert artifact(sandbox_api, artifact_id)["manifest"]["video"]["status"] == "stale"


def test_music_and_coverage_generate_then_complete(sandbox_api: SandboxApi) -> None:
    """music: generating -> ready; coverage: generating -> complete with a report."""
    _, artifact_id = sandbox_api.ready_artifact()
    base = f"/artifacts/{artifact_id}"
    assert sandbox_api.ok(sandbox_api.get(f"{base}/coverage")) == {"coverage": None}
    music = sandbox_api.ok(sandbox_api.post(f"{base}/music", {"musicCoveragePercent": 35}))
    assert (music["status"], music["coveragePercent"]) == ("generating", 0.35)
    report = sandbox_api.ok(sandbox_api.post(f"{base}/coverage", {"focusPrompt": "midpoint"}))
    assert report["status"] == "generating"
    sandbox_api.advance(8)
    assert sandbox_api.ok(sandbox_api.get(f"{base}/music"))["music"]["status"] == "ready"
    coverage = sandbox_api.ok(sandbox_api.get(f"{base}/coverage", reportId=report["reportId"]))
    assert coverage["coverage"]["status"] == "complete" and coverage["coverage"]["report"]


def test_deleted_project_and_source_read_404(sandbox_api: SandboxApi) -> None:
    """DELETE soft-deletes: {id, deletedAt}, then 404 on read, and the source count drops."""
    project_id = sandbox_api.project()
    source_id = sandbox_api.text_source(project_id, TEXT)
    path = f"/story-projects/{project_id}/sources/{source_id}"
    deleted = sandbox_api.ok(sandbox_api.http.delete(path))
    assert deleted["id"] == source_id and deleted["deletedAt"]
    assert sandbox_api.get(path).json()["error"]["code"] == "source_not_found"
    project = sandbox_api.ok(sandbox_api.get(f"/story-projects/{project_id}"))["project"]
    assert project["sourceCount"] == 0
    sandbox_api.ok(sandbox_api.http.delete(f"/story-projects/{project_id}"))
    assert sandbox_api.get(f"/story-projects/{project_id}").status_code == 404


@pytest.mark.parametrize(
    "uri",
    ["https://fail.example.com/a", "https://example.com/404/a", "https://example.com/notfound"],
)
def test_unfetchable_urls_fail_in_the_background(sandbox_api: SandboxApi, uri: str) -> None:
    """A failing host or a 404-ish path: accepted PENDING, then FAILED with source_fetch_failed."""
    project_id = sandbox_api.project()
    body = {"type": "url", "uri": uri}
    source = sandbox_api.ok(sandbox_api.post(f"/story-projects/{project_id}/sources", body))
    assert source["source"]["status"] == "PENDING"
    sandbox_api.advance(5)
    path = f"/story-projects/{project_id}/sources/{source['source']['id']}"
    failed = sandbox_api.ok(sandbox_api.get(path))["source"]
    assert (failed["status"], failed["failureCode"]) == ("FAILED", "source_fetch_failed")
    assert failed["failureMessage"]


def test_a_marked_text_gets_a_failed_digest(sandbox_api: SandboxApi) -> None:
    """Text containing "[digest:fail]" is READY, but its digest ends FAILED with a code."""
    project_id = sandbox_api.project()
    source_id = sandbox_api.text_source(project_id, TEXT + " [digest:fail]")
    sandbox_api.advance(5)
    source = sandbox_api.ok(sandbox_api.get(f"/story-projects/{project_id}/sources/{source_id}"))
    assert (source["source"]["status"], source["source"]["digestStatus"]) == ("READY", "FAILED")
    assert source["source"]["digestFailureCode"] == "digest_failed"


def test_side_reads_answer_while_a_refine_runs(sandbox_api: SandboxApi) -> None:
    """Mid-refine the artifact is RUNNING: music, sfx and cast still read; mutations are 409."""
    _, artifact_id = sandbox_api.ready_artifact()
    base = f"/artifacts/{artifact_id}"
    sandbox_api.ok(sandbox_api.post(f"{base}/refine", {"instruction": "warmer"}))
    sandbox_api.advance(3)
    assert artifact(sandbox_api, artifact_id)["status"] == "RUNNING"
    for read in ("music", "sfx", "cast"):
        assert sandbox_api.get(f"{base}/{read}").status_code == 200, read
    refused = sandbox_api.post(f"{base}/finalize", {"mode": "audio"})
    assert refused.json()["error"]["code"] == "artifact_not_ready"


def test_quirks_add_unknown_fields_and_drop_a_ready_source_status(
    sandbox: StorySandboxServer, sandbox_api: SandboxApi
) -> None:
    """Off by default; on: resources carry an unknown field, READY sources omit status."""
    project_id = sandbox_api.project()
    plain = sandbox_api.ok(sandbox_api.get(f"/story-projects/{project_id}"))["project"]
    assert "sandboxUnknownField" not in plain
    sandbox.control.put("/quirks", json={"enabled": True}).raise_for_status()
    source_id = sandbox_api.text_source(project_id)
    source = sandbox_api.ok(sandbox_api.get(f"/story-projects/{project_id}/sources/{source_id}"))
    assert "status" not in source["source"] and "sandboxUnknownField" in source["source"]
    listed = sandbox_api.ok(sandbox_api.get("/story-projects"))["projects"]
    assert all("sandboxUnknownField" in p for p in listed)
