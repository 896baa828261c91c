"""``StoryClient``: every Story API endpoint, declared once as a route (``bridge.http.routes``).

Each attribute below is one endpoint: method, path template, response model, envelope, body model
and query; the shared layer turns it into a method with the same arguments everywhere: the path
ids positionally, then the body (routes that take one), then ``idempotency_key=`` (mutating
routes), ``priority=`` (poll reads pass ``Priority.POLL``) and the query parameters by keyword.
Every method returns :class:`ApiResponse` (``status``, ``data``, ``raw``, ``request_id``,
``replayed``, ``headers``); ``list_*`` return ``ApiResponse[ListPage[Model]]``, ``iter_*`` iterate
every item. Connection settings belong to the :class:`~bridge.http.transport.Transport` the client
is given: ``StoryClient(story_transport(base_url, key, budget=..., retry=...))``.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from bridge.http.keys import ApiKey
from bridge.http.routes import RouteClient, call, items, pages
from bridge.http.transport import Transport
from bridge.providers.story import errors as story_errors
from schemas.story import requests as q
from schemas.story import requests_publishing as qp
from schemas.story import resources as r
from schemas.story.publishing import LiveRoom, Release

__all__ = ["START_LIVE_PATH", "StoryClient", "story_transport"]

START_LIVE_PATH = "api/share/table-read/start-live"  # beside the versioned API, not under it

_PROJECT = "story-projects/{project_id}"
_SOURCES = f"{_PROJECT}/sources"
_BIBLE = f"{_PROJECT}/series-bible"
_PLAN = "story-plans/{plan_id}"
_JOB = "story-jobs/{job_id}"
_ARTIFACT = "artifacts/{artifact_id}"
_RELEASES = "publishing-series/{series_id}/releases"
_RELEASE = "publishing-releases/{release_id}"
_JOB_FILTERS = {"project_id": "projectId", "story_plan_id": "storyPlanId"}


def story_transport(base_url: str, key: ApiKey | str | SecretStr, **settings: Any) -> Transport:
    """A transport that maps errors the Story API's way; `settings` are the Transport's own
    (budget, retry, timeout, limits, transport, on_request, circuit), declared there only."""
    return Transport(base_url, key, errors=story_errors.from_response, **settings)


class StoryClient(RouteClient):
    """Typed Story API client. Use as ``async with StoryClient(Transport(...)) as api:``.

    Share one :class:`~bridge.http.ratelimit.RateBudget` between every transport that uses the
    same key (the bridge creates one per key).
    """

    # --- discovery and docs (the docs need no auth upstream; sent with it anyway) --------------
    get_capabilities = call("GET", "capabilities", r.Capabilities, doc="The live feature manifest.")
    get_credits = call("GET", "credits", r.CreditBalance, envelope="credits")
    get_openapi = call("GET", "openapi.json", doc="The OpenAPI 3.1 document, raw.")
    get_examples = call("GET", "examples", doc="The machine-readable recipe catalog, raw.")
    get_agent_guidance = call("GET", "agent-guidance", doc="Workflow guidance, raw.")

    # --- projects and sources ------------------------------------------------------------------
    create_project = call(
        "POST", "story-projects", r.Project, envelope="project", body=q.ProjectCreate
    )
    list_projects = pages("story-projects", r.Project, "projects")
    iter_projects = items(list_projects)
    get_project = call("GET", _PROJECT, r.Project, envelope="project")
    update_project = call("PATCH", _PROJECT, r.Project, envelope="project", body=q.ProjectUpdate)
    delete_project = call("DELETE", _PROJECT, r.Deleted)
    create_source = call("POST", _SOURCES, r.Source, envelope="source", body=q.SourceCreate)
    list_sources = pages(_SOURCES, r.Source, "sources")
    iter_sources = items(list_sources)
    get_source = call("GET", _SOURCES + "/{source_id}", r.Source, envelope="source")
    delete_source = call("DELETE", _SOURCES + "/{source_id}", r.Deleted)

    # --- project documents (field notes: live but undocumented) --------------------------------
    get_series_bible = call("GET", _BIBLE, r.SeriesBible, envelope="document")
    generate_series_bible = call(
        "POST", _BIBLE, r.SeriesBible, envelope="document", body=q.SeriesBibleGenerate,
        doc="Generate or refresh the bible from the project's context.",
    )  # fmt: skip
    update_series_bible = call(
        "PATCH", _BIBLE, r.SeriesBible, envelope="document", body=q.SeriesBibleUpdate,
        doc="Save caller-authored bible content.",
    )  # fmt: skip
    get_cast_canon = call("GET", f"{_PROJECT}/cast-canon", doc="The cast canon, raw JSON.")
    update_cast_canon = call("PATCH", f"{_PROJECT}/cast-canon", raw_body=True)

    # --- plans and jobs ------------------------------------------------------------------------
    create_plan = call(
        "POST", f"{_PROJECT}/story-plans", r.Plan, envelope="plan", body=q.PlanCreate,
        doc="Start planning; the plan comes back PENDING with a preliminary quote.",
    )  # fmt: skip
    list_plans = pages(f"{_PROJECT}/story-plans", r.Plan, "plans")
    iter_plans = items(list_plans)
    get_plan = call("GET", _PLAN, r.Plan, envelope="plan")
    # No body unless given one: the production client sends `{"userConfirmed": true}`.
    approve_plan = call(
        "POST", f"{_PLAN}/approve", r.Plan, envelope="plan", body=q.PlanApprove, empty_body=False
    )
    reject_plan = call("POST", f"{_PLAN}/reject", r.Plan, envelope="plan", body=q.PlanReject)
    resume_plan = call("POST", f"{_PLAN}/resume", r.Plan, envelope="plan")
    create_job = call(
        "POST", "story-jobs", r.Job, envelope="job", body=q.JobCreate,
        doc="Reserve credits and start generating from an APPROVED plan. Send a key: it is paid.",
    )  # fmt: skip
    list_jobs = pages("story-jobs", r.Job, "jobs", query=_JOB_FILTERS)
    iter_jobs = items(list_jobs)
    get_job = call("GET", _JOB, r.Job, envelope="job")
    cancel_job = call("POST", f"{_JOB}/cancel", r.Job, envelope="job")
    resume_job = call("POST", f"{_JOB}/resume", r.Job, envelope="job")
    list_job_artifacts = pages(f"{_JOB}/artifacts", r.Artifact, "artifacts")

    # --- artifacts: reads, and the actions that mutate a table read in place -------------------
    get_artifact = call(
        "GET", _ARTIFACT, r.Artifact, envelope="artifact", query={"revision": "revision"}
    )
    artifact_refine = call(
        "POST", f"{_ARTIFACT}/refine", r.Job, envelope="storyJob", body=q.ArtifactRefine,
        doc="Revise in place; answers the story job to poll.",
    )  # fmt: skip
    artifact_finalize = call(
        "POST", f"{_ARTIFACT}/finalize", r.FinalizeResult, body=q.ArtifactFinalize
    )
    artifact_render_video = call("POST", f"{_ARTIFACT}/render-video", r.RenderVideoResult)
    artifact_voice = call("POST", f"{_ARTIFACT}/voice", r.VoiceResult, body=q.ArtifactVoice)
    artifact_coverage = call(
        "POST", f"{_ARTIFACT}/coverage", r.CoverageStarted, body=q.ArtifactCoverage
    )
    get_artifact_coverage = call(
        "GET", f"{_ARTIFACT}/coverage", r.Coverage, optional=True, envelope="coverage",
        query={"report_id": "reportId"}, doc="The latest (or report_id) report; None when none.",
    )  # fmt: skip
    artifact_music = call("POST", f"{_ARTIFACT}/music", r.MusicResult, body=q.ArtifactMusic)
    get_artifact_music = call("GET", f"{_ARTIFACT}/music", r.Music, envelope="music")
    artifact_sfx = call("POST", f"{_ARTIFACT}/sfx", r.SfxResult, body=q.ArtifactSfx)
    get_artifact_sfx = call("GET", f"{_ARTIFACT}/sfx", r.Sfx, envelope="sfx")
    artifact_cast = call("POST", f"{_ARTIFACT}/cast", r.CastResult, body=q.ArtifactCast)
    get_artifact_cast = call("GET", f"{_ARTIFACT}/cast", r.Cast)
    artifact_avatar = call("POST", f"{_ARTIFACT}/avatar", r.AvatarResult, body=q.ArtifactAvatar)
    artifact_voice_modification = call(
        "POST", f"{_ARTIFACT}/voice-modification", r.VoiceModificationResult,
        body=q.ArtifactVoiceModification,
    )  # fmt: skip
    get_artifact_script = call(
        "GET", f"{_ARTIFACT}/script", r.Script, envelope="script", defaults={"scope": "page"},
        open_query=True, doc="The backing script by scope (page|scene|character|range).",
    )  # fmt: skip

    # --- publishing releases and the live read (FIELD-NOTES: live, not in the reference) -------
    create_release = call("POST", _RELEASES, Release, envelope="release", body=qp.ReleaseCreate)
    list_releases = pages(_RELEASES, Release, "releases", query={"status": "status"})
    iter_releases = items(list_releases)
    describe_release = call(
        "POST", f"{_RELEASE}/description/generate", Release, envelope="release",
        body=qp.ReleaseDescribe,
    )  # fmt: skip
    publish_release = call(
        "POST", f"{_RELEASE}/publish", Release, envelope="release", body=qp.ReleasePublish
    )
    refresh_release_media = call(
        "POST", f"{_RELEASE}/refresh-media", Release, envelope="release",
        body=qp.ReleaseRefreshMedia,
    )  # fmt: skip
    # Authorized by the share token, not the key; no Idempotency-Key (not paid, and starting a
    # live read twice joins the same room).
    start_live = call(
        "POST", START_LIVE_PATH, LiveRoom, body=qp.StartLive, origin=True, idempotent=False
    )

    async def probe(self) -> None:
        """The circuit's probe: one cheap authenticated read (the capability manifest)."""
        await self.get_capabilities()
