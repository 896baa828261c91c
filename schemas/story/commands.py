"""The NATS command payloads of the contract: path parameters + request body fields + `commandId`.

Each command model inherits its body model, so the body's fields and limits are written once.
`COMMAND_MODELS` maps the contract's `<resource>.<action>` names to them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from schemas.story import requests as q
from schemas.wire.base import RequestModel
from schemas.wire.extra_fields import allowing_extra

CommandId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
Id = Annotated[str, Field(min_length=1, max_length=200)]


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (naive = UTC) or a duration back from now (`90s`, `30m`, `2h`, `7d`)."""
    text = value.strip()
    match = _DURATION.match(text)
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is neither an ISO 8601 time nor a duration like 30m, 2h, 7d"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class UnknownCommand(ValueError):
    """The subject names no command of the contract."""


class Command(RequestModel):
    """Base of every command: the optional `commandId` that names the logical operation."""

    command: ClassVar[str]
    """The contract name, `<resource>.<action>` (not `name`: project.create has a `name` field)."""
    path_fields: ClassVar[tuple[str, ...]] = ()
    """Fields that go into the URL path, in path order."""
    body_model: ClassVar[type[RequestModel] | None] = None
    """The request body model; None for commands that send no body."""

    commandId: CommandId | None = None

    def path(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.path_fields}

    def body(self) -> RequestModel | None:
        """The request body built from the fields that were set (path fields and commandId excluded).

        Built from `exclude_unset` so a PATCH keeps an explicit null and sends nothing it was not given.
        """
        if self.body_model is None:
            return None
        data = self.model_dump(exclude={*self.path_fields, "commandId"}, exclude_unset=True)
        # Fields the bridge does not know, let through by the extra-fields policy, go along.
        body_model = allowing_extra(self.body_model) if self.model_extra else self.body_model
        return body_model.model_validate(data)


# --- projects -------------------------------------------------------------------------------------
class ProjectCreateCommand(Command, q.ProjectCreate):
    """Create a project (POST /story-projects)."""

    command = "project.create"
    body_model = q.ProjectCreate


class ProjectUpdateCommand(Command, q.ProjectUpdate):
    """Update a project (PATCH /story-projects/{projectId})."""

    command = "project.update"
    path_fields = ("projectId",)
    body_model = q.ProjectUpdate
    projectId: Id


class ProjectDeleteCommand(Command):
    """Soft-delete a project (DELETE /story-projects/{projectId})."""

    command = "project.delete"
    path_fields = ("projectId",)
    projectId: Id


# --- sources --------------------------------------------------------------------------------------
class SourceCreateCommand(Command, q.SourceCreate):
    """Attach a source (POST /story-projects/{projectId}/sources)."""

    command = "source.create"
    path_fields = ("projectId",)
    body_model = q.SourceCreate
    projectId: Id


class SourceDeleteCommand(Command):
    """Soft-delete a source (DELETE /story-projects/{projectId}/sources/{sourceId})."""

    command = "source.delete"
    path_fields = ("projectId", "sourceId")
    projectId: Id
    sourceId: Id


# --- plans ----------------------------------------------------------------------------------------
class PlanCreateCommand(Command, q.PlanCreate):
    """Generate a StoryPlan (POST /story-projects/{projectId}/story-plans)."""

    command = "plan.create"
    path_fields = ("projectId",)
    body_model = q.PlanCreate
    projectId: Id


class PlanApproveCommand(Command, q.PlanApprove):
    """Approve a plan at REQUIRES_APPROVAL (POST /story-plans/{planId}/approve)."""

    command = "plan.approve"
    path_fields = ("planId",)
    body_model = q.PlanApprove
    planId: Id


class PlanRejectCommand(Command, q.PlanReject):
    """Reject a plan (POST /story-plans/{planId}/reject)."""

    command = "plan.reject"
    path_fields = ("planId",)
    body_model = q.PlanReject
    planId: Id


# --- jobs -----------------------------------------------------------------------------------------
class JobCreateCommand(Command, q.JobCreate):
    """Create a job from an APPROVED plan; reserves credits (POST /story-jobs)."""

    command = "job.create"
    body_model = q.JobCreate


class JobCancelCommand(Command):
    """Cancel a job and release its credits (POST /story-jobs/{jobId}/cancel)."""

    command = "job.cancel"
    path_fields = ("jobId",)
    jobId: Id


# --- artifacts ------------------------------------------------------------------------------------
class _ArtifactCommand(Command):
    path_fields = ("artifactId",)
    artifactId: Id


class ArtifactRefineCommand(_ArtifactCommand, q.ArtifactRefine):
    """Revise a table read in place (POST /artifacts/{artifactId}/refine)."""

    command = "artifact.refine"
    body_model = q.ArtifactRefine


class ArtifactFinalizeCommand(_ArtifactCommand, q.ArtifactFinalize):
    """Render a durable MP3 or MP4 (POST /artifacts/{artifactId}/finalize)."""

    command = "artifact.finalize"
    body_model = q.ArtifactFinalize


class ArtifactRenderVideoCommand(_ArtifactCommand):
    """Render the opt-in MP4 (POST /artifacts/{artifactId}/render-video)."""

    command = "artifact.render_video"


class ArtifactVoiceCommand(_ArtifactCommand, q.ArtifactVoice):
    """Recast one character voice (POST /artifacts/{artifactId}/voice)."""

    command = "artifact.voice"
    body_model = q.ArtifactVoice


class ArtifactCoverageCommand(_ArtifactCommand, q.ArtifactCoverage):
    """Generate script coverage (POST /artifacts/{artifactId}/coverage)."""

    command = "artifact.coverage"
    body_model = q.ArtifactCoverage


class ArtifactMusicCommand(_ArtifactCommand, q.ArtifactMusic):
    """Generate or tune adaptive music (POST /artifacts/{artifactId}/music)."""

    command = "artifact.music"
    body_model = q.ArtifactMusic


class ArtifactSfxCommand(_ArtifactCommand, q.ArtifactSfx):
    """Add, update or remove a sound-effect cue (POST /artifacts/{artifactId}/sfx)."""

    command = "artifact.sfx"
    body_model = q.ArtifactSfx


class ArtifactCastCommand(_ArtifactCommand, q.ArtifactCast):
    """Restyle or recast the cast (POST /artifacts/{artifactId}/cast)."""

    command = "artifact.cast"
    body_model = q.ArtifactCast


class ArtifactAvatarCommand(_ArtifactCommand, q.ArtifactAvatar):
    """Re-render one character avatar (POST /artifacts/{artifactId}/avatar)."""

    command = "artifact.avatar"
    body_model = q.ArtifactAvatar


class ArtifactVoiceModificationCommand(_ArtifactCommand, q.ArtifactVoiceModification):
    """Apply a voice effect to a range of lines (POST /artifacts/{artifactId}/voice-modification)."""

    command = "artifact.voice_modification"
    body_model = q.ArtifactVoiceModification


# --- series bible ---------------------------------------------------------------------------------
class SeriesBibleGenerateCommand(Command, q.SeriesBibleGenerate):
    """Generate or refresh the Series Bible (POST /story-projects/{projectId}/series-bible)."""

    command = "series_bible.generate"
    path_fields = ("projectId",)
    body_model = q.SeriesBibleGenerate
    projectId: Id


class SeriesBibleUpdateCommand(Command, q.SeriesBibleUpdate):
    """Save caller-authored Series Bible content (PATCH /story-projects/{projectId}/series-bible)."""

    command = "series_bible.update"
    path_fields = ("projectId",)
    body_model = q.SeriesBibleUpdate
    projectId: Id


# --- watches --------------------------------------------------------------------------------------
class WatchCommand(Command):
    """Start or stop watching a resource created elsewhere."""

    # `release` is a project addition (docs/CONTRACT.md "Project additions").
    resource: Literal["source", "plan", "job", "artifact", "release"]
    id: Id
    # Sources are read under their project (GET /story-projects/{projectId}/sources/{id}).
    projectId: Id | None = Field(default=None, validate_default=True)
    # Releases are read from their series' listing (GET /publishing-series/{seriesId}/releases).
    seriesId: Id | None = Field(default=None, validate_default=True)

    @field_validator("projectId")
    @classmethod
    def _sources_need_project(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("resource") == "source" and not value:
            raise ValueError("projectId is required to watch a source")
        return value

    @field_validator("seriesId")
    @classmethod
    def _releases_need_series(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("resource") == "release" and not value:
            raise ValueError("seriesId is required to watch a release")
        return value


class WatchAddCommand(WatchCommand):
    """Watch a resource until it reaches a terminal state."""

    command = "watch.add"


class WatchRemoveCommand(WatchCommand):
    """Stop watching a resource."""

    command = "watch.remove"


# --- admin (request/reply; they touch no API) -----------------------------------------------------
class AdminRedriveCommand(Command):
    """Put dead letters back on their command subjects (CONTRACT.md, "Redrive")."""

    command = "admin.redrive"
    # A command name (`plan.approve`), and an ISO 8601 time or a duration back from now (`2h`).
    filter_command: str | None = Field(
        default=None, alias="command", max_length=200, pattern=r"^[a-z_]+(\.[a-z_]+)+$"
    )
    since: datetime | None = None
    dryRun: bool = False

    @field_validator("since", mode="before")
    @classmethod
    def _since(cls, value: object) -> object:
        return parse_since(value) if isinstance(value, str) else value


class AdminWatchesCommand(Command):
    """List watches of every replica, filtered, a page at a time (`nextCursor` for the next)."""

    command = "admin.watches"

    provider: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    resource: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    state: Literal["active", "stalled", "done"] | None = None
    cursor: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    limit: int = Field(default=100, ge=1, le=1000)


_ALL: tuple[type[Command], ...] = (
    ProjectCreateCommand,
    ProjectUpdateCommand,
    ProjectDeleteCommand,
    SourceCreateCommand,
    SourceDeleteCommand,
    PlanCreateCommand,
    PlanApproveCommand,
    PlanRejectCommand,
    JobCreateCommand,
    JobCancelCommand,
    ArtifactRefineCommand,
    ArtifactFinalizeCommand,
    ArtifactRenderVideoCommand,
    ArtifactVoiceCommand,
    ArtifactCoverageCommand,
    ArtifactMusicCommand,
    ArtifactSfxCommand,
    ArtifactCastCommand,
    ArtifactAvatarCommand,
    ArtifactVoiceModificationCommand,
    SeriesBibleGenerateCommand,
    SeriesBibleUpdateCommand,
    WatchAddCommand,
    WatchRemoveCommand,
    AdminRedriveCommand,
    AdminWatchesCommand,
)
# ==================================================================================================
# Read commands (contract "Read commands"): every documented GET, so services need no API key.
# Kept as one block, apart from the write commands above. Each model names its GET route
# (`route`, path fields in braces) and the query parameters it passes (`query_fields`); one
# table-driven handler (handlers/story/reads.py) serves them all. Reads start no watch.
# ==================================================================================================
PageLimit = Annotated[int, Field(ge=1, le=100)]


class ReadCommand(Command):
    """Base of the read commands: one GET, its JSON the outcome's `result`."""

    route: ClassVar[str]
    query_fields: ClassVar[tuple[str, ...]] = ()

    def query(self) -> dict[str, object]:
        values = {name: getattr(self, name) for name in self.query_fields}
        return {k: v for k, v in values.items() if v is not None}


class _Paged(ReadCommand):
    query_fields: ClassVar[tuple[str, ...]] = ("cursor", "limit")
    cursor: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    limit: PageLimit | None = None


class ProjectGetCommand(ReadCommand):
    """Read a project (GET /story-projects/{projectId})."""

    command = "project.get"
    route = "story-projects/{projectId}"
    path_fields = ("projectId",)
    projectId: Id


class ProjectListCommand(_Paged):
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


class SourceListCommand(_Paged):
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


class PlanListCommand(_Paged):
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


class JobListCommand(_Paged):
    """List jobs, filtered by project or plan, one page (GET /story-jobs)."""

    command = "job.list"
    route = "story-jobs"
    query_fields = ("projectId", "storyPlanId", "cursor", "limit")
    projectId: Id | None = None
    storyPlanId: Id | None = None


class JobListArtifactsCommand(_Paged):
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
)
"""The read commands, in the registries below with the write commands."""


# --- project additions (docs/CONTRACT.md "Project additions"), kept in their own module -------------
# Imported here, below `Command`, because those models build on it.
from schemas.story.commands_pipeline import PIPELINE_COMMANDS  # noqa: E402

COMMAND_MODELS: dict[str, type[Command]] = {
    model.command: model for model in (*_ALL, *READ_COMMANDS)
}
"""Every command of the contract, by its `<resource>.<action>` name (the subject suffix)."""
COMMAND_MODELS.update({model.command: model for model in PIPELINE_COMMANDS})


def _route(model: type[Command]) -> str | None:
    match = re.search(r"\(((?:GET|POST|PATCH|DELETE) /[^)]+)\)", model.__doc__ or "")
    return match.group(1) if match else None


COMMAND_ROUTES: dict[str, str | None] = {name: _route(m) for name, m in COMMAND_MODELS.items()}
"""The API route each command calls, for logs and metrics (from the model docstrings)."""


def parse_command(name: str, payload: dict[str, object]) -> Command:
    """Validate `payload` as command `name` (pydantic's ValidationError names the field)."""
    model = COMMAND_MODELS.get(name)
    if model is None:
        raise UnknownCommand(f"unknown command {name!r}")
    return model.model_validate(payload)
