"""The Story API's read commands (contract "Read commands"): every documented GET, so services need
no API key. Each model names its GET route (`route`, path fields in braces) and the query parameters
it passes (`query_fields`); one table-driven handler (handlers/story/reads.py) serves them all.
Reads start no watch.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.wire.commands import Id, PagedRead, ReadCommand


class ProjectGetCommand(ReadCommand):
    """Read a project (GET /story-projects/{projectId})."""

    command = "project.get"
    route = "story-projects/{projectId}"
    path_fields = ("projectId",)
    projectId: Id


class ProjectListCommand(PagedRead):
    """List the account's projects, one page (GET /story-projects)."""

    command = "project.list"
    route = "story-projects"


class SourceGetCommand(ReadCommand):
    """Read a source (GET /story-projects/{projectId}/sources/{sourceId})."""

    command = "source.get"
    route = "story-projects/{projectId}/sources/{sourceId}"
    path_fields = ("projectId", "sourceId")
    projectId: Id
    sourceId: Id


class SourceListCommand(PagedRead):
    """List a project's sources, one page (GET /story-projects/{projectId}/sources)."""

    command = "source.list"
    route = "story-projects/{projectId}/sources"
    path_fields = ("projectId",)
    projectId: Id


class PlanGetCommand(ReadCommand):
    """Read a plan (GET /story-plans/{planId})."""

    command = "plan.get"
    route = "story-plans/{planId}"
    path_fields = ("planId",)
    planId: Id


class PlanListCommand(PagedRead):
    """List a project's plans, one page (GET /story-projects/{projectId}/story-plans)."""

    command = "plan.list"
    route = "story-projects/{projectId}/story-plans"
    path_fields = ("projectId",)
    projectId: Id


class JobGetCommand(ReadCommand):
    """Read a job with its artifacts (GET /story-jobs/{jobId})."""

    command = "job.get"
    route = "story-jobs/{jobId}"
    path_fields = ("jobId",)
    jobId: Id


class JobListCommand(PagedRead):
    """List jobs, filtered by project or plan, one page (GET /story-jobs)."""

    command = "job.list"
    route = "story-jobs"
    query_fields = ("projectId", "storyPlanId", "cursor", "limit")
    projectId: Id | None = None
    storyPlanId: Id | None = None


class JobListArtifactsCommand(PagedRead):
    """List a job's artifacts (GET /story-jobs/{jobId}/artifacts)."""

    command = "job.list_artifacts"
    route = "story-jobs/{jobId}/artifacts"
    path_fields = ("jobId",)
    jobId: Id


class _ArtifactRead(ReadCommand):
    path_fields = ("artifactId",)
    artifactId: Id


class ArtifactGetCommand(_ArtifactRead):
    """Read an artifact and its manifest, optionally an earlier revision (GET /artifacts/{artifactId})."""

    command = "artifact.get"
    route = "artifacts/{artifactId}"
    query_fields = ("revision",)
    revision: Annotated[int, Field(ge=1)] | None = None


class ArtifactGetScriptCommand(_ArtifactRead):
    """Read the backing script by scope (GET /artifacts/{artifactId}/script)."""

    command = "artifact.get_script"
    route = "artifacts/{artifactId}/script"
    query_fields = ("scope", "page", "sceneIndex", "character", "start", "end")
    scope: Literal["page", "scene", "character", "range"] | None = None
    page: Annotated[int, Field(ge=1)] | None = None
    sceneIndex: Annotated[int, Field(ge=0)] | None = None
    character: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    start: Annotated[int, Field(ge=0)] | None = None
    end: Annotated[int, Field(ge=0)] | None = None


class ArtifactGetCastCommand(_ArtifactRead):
    """Read the cast (GET /artifacts/{artifactId}/cast)."""

    command = "artifact.get_cast"
    route = "artifacts/{artifactId}/cast"


class ArtifactGetMusicCommand(_ArtifactRead):
    """Read the adaptive music state (GET /artifacts/{artifactId}/music)."""

    command = "artifact.get_music"
    route = "artifacts/{artifactId}/music"


class ArtifactGetSfxCommand(_ArtifactRead):
    """Read the sound-effect cues (GET /artifacts/{artifactId}/sfx)."""

    command = "artifact.get_sfx"
    route = "artifacts/{artifactId}/sfx"


class ArtifactGetCoverageCommand(_ArtifactRead):
    """Read the latest (or one) coverage report (GET /artifacts/{artifactId}/coverage)."""

    command = "artifact.get_coverage"
    route = "artifacts/{artifactId}/coverage"
    query_fields = ("reportId",)
    reportId: Id | None = None


class SeriesBibleGetCommand(ReadCommand):
    """Read the Series Bible (GET /story-projects/{projectId}/series-bible)."""

    command = "series_bible.get"
    route = "story-projects/{projectId}/series-bible"
    path_fields = ("projectId",)
    projectId: Id


class CreditsGetCommand(ReadCommand):
    """Read the Studio Credit balance (GET /credits)."""

    command = "credits.get"
    route = "credits"


class CapabilitiesGetCommand(ReadCommand):
    """Read what the key may do and the artifact types on offer (GET /capabilities)."""

    command = "capabilities.get"
    route = "capabilities"


class CastCanonGetCommand(ReadCommand):
    """Read the cast canon (GET /story-projects/{projectId}/cast-canon)."""

    command = "cast_canon.get"
    route = "story-projects/{projectId}/cast-canon"
    path_fields = ("projectId",)
    projectId: Id


class OpenApiGetCommand(ReadCommand):
    """Read the API's OpenAPI 3.1 document (GET /openapi.json)."""

    command = "openapi.get"
    route = "openapi.json"


class ExamplesGetCommand(ReadCommand):
    """Read the API's request and response examples (GET /examples)."""

    command = "examples.get"
    route = "examples"


READ_COMMANDS: tuple[type[ReadCommand], ...] = (
    ProjectGetCommand,
    ProjectListCommand,
    SourceGetCommand,
    SourceListCommand,
    PlanGetCommand,
    PlanListCommand,
    JobGetCommand,
    JobListCommand,
    JobListArtifactsCommand,
    ArtifactGetCommand,
    ArtifactGetScriptCommand,
    ArtifactGetCastCommand,
    ArtifactGetMusicCommand,
    ArtifactGetSfxCommand,
    ArtifactGetCoverageCommand,
    SeriesBibleGetCommand,
    CreditsGetCommand,
    CapabilitiesGetCommand,
    CastCanonGetCommand,
    OpenApiGetCommand,
    ExamplesGetCommand,
)
"""The read commands, in the registries below with the write commands."""
