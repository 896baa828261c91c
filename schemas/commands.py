"""The NATS command payloads of the contract: path parameters + request body fields + `commandId`.

Each command model inherits its body model, so the body's fields and limits are written once.
`COMMAND_MODELS` maps the contract's `<resource>.<action>` names to them.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from schemas import requests as q
from schemas.base import RequestModel

CommandId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
Id = Annotated[str, Field(min_length=1, max_length=200)]


class UnknownCommand(ValueError):
    """The subject names no command of the contract."""


class Command(RequestModel):
    """Base of every command: the optional `commandId` that names the logical operation."""

    path_fields: ClassVar[tuple[str, ...]] = ()
    body_model: ClassVar[type[RequestModel] | None] = None

    commandId: CommandId | None = None

    def path(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.path_fields}

    def body(self) -> RequestModel | None:
        """The request body built from the fields that were set (path fields and commandId excluded)."""
        if self.body_model is None:
            return None
        skip = {*self.path_fields, "commandId"}
        fields = {k: getattr(self, k) for k in self.model_fields_set if k not in skip}
        return self.body_model.model_validate(
            {
                k: v.model_dump(exclude_unset=True) if isinstance(v, RequestModel) else v
                for k, v in fields.items()
            }
        )


# --- projects -------------------------------------------------------------------------------------
class ProjectCreateCommand(Command, q.ProjectCreate):
    """Create a project (POST /story-projects)."""

    body_model = q.ProjectCreate


class ProjectUpdateCommand(Command, q.ProjectUpdate):
    """Update a project (PATCH /story-projects/{projectId})."""

    path_fields = ("projectId",)
    body_model = q.ProjectUpdate
    projectId: Id


class ProjectDeleteCommand(Command):
    """Soft-delete a project (DELETE /story-projects/{projectId})."""

    path_fields = ("projectId",)
    projectId: Id


# --- sources --------------------------------------------------------------------------------------
class SourceCreateCommand(Command, q.SourceCreate):
    """Attach a source (POST /story-projects/{projectId}/sources)."""

    path_fields = ("projectId",)
    body_model = q.SourceCreate
    projectId: Id


class SourceDeleteCommand(Command):
    """Soft-delete a source (DELETE /story-projects/{projectId}/sources/{sourceId})."""

    path_fields = ("projectId", "sourceId")
    projectId: Id
    sourceId: Id


# --- plans ----------------------------------------------------------------------------------------
class PlanCreateCommand(Command, q.PlanCreate):
    """Generate a StoryPlan (POST /story-projects/{projectId}/story-plans)."""

    path_fields = ("projectId",)
    body_model = q.PlanCreate
    projectId: Id


class PlanApproveCommand(Command):
    """Approve a plan at REQUIRES_APPROVAL (POST /story-plans/{planId}/approve)."""

    path_fields = ("planId",)
    planId: Id


class PlanRejectCommand(Command, q.PlanReject):
    """Reject a plan (POST /story-plans/{planId}/reject)."""

    path_fields = ("planId",)
    body_model = q.PlanReject
    planId: Id


# --- jobs -----------------------------------------------------------------------------------------
class JobCreateCommand(Command, q.JobCreate):
    """Create a job from an APPROVED plan; reserves credits (POST /story-jobs)."""

    body_model = q.JobCreate


class JobCancelCommand(Command):
    """Cancel a job and release its credits (POST /story-jobs/{jobId}/cancel)."""

    path_fields = ("jobId",)
    jobId: Id


# --- artifacts ------------------------------------------------------------------------------------
class _ArtifactCommand(Command):
    path_fields = ("artifactId",)
    artifactId: Id


class ArtifactRefineCommand(_ArtifactCommand, q.ArtifactRefine):
    """Revise a table read in place (POST /artifacts/{artifactId}/refine)."""

    body_model = q.ArtifactRefine


class ArtifactFinalizeCommand(_ArtifactCommand, q.ArtifactFinalize):
    """Render a durable MP3 or MP4 (POST /artifacts/{artifactId}/finalize)."""

    body_model = q.ArtifactFinalize


class ArtifactRenderVideoCommand(_ArtifactCommand):
    """Render the opt-in MP4 (POST /artifacts/{artifactId}/render-video)."""


class ArtifactVoiceCommand(_ArtifactCommand, q.ArtifactVoice):
    """Recast one character voice (POST /artifacts/{artifactId}/voice)."""

    body_model = q.ArtifactVoice


class ArtifactCoverageCommand(_ArtifactCommand, q.ArtifactCoverage):
    """Generate script coverage (POST /artifacts/{artifactId}/coverage)."""

    body_model = q.ArtifactCoverage


class ArtifactMusicCommand(_ArtifactCommand, q.ArtifactMusic):
    """Generate or tune adaptive music (POST /artifacts/{artifactId}/music)."""

    body_model = q.ArtifactMusic


class ArtifactSfxCommand(_ArtifactCommand, q.ArtifactSfx):
    """Add, update or remove a sound-effect cue (POST /artifacts/{artifactId}/sfx)."""

    body_model = q.ArtifactSfx


class ArtifactCastCommand(_ArtifactCommand, q.ArtifactCast):
    """Restyle or recast the cast (POST /artifacts/{artifactId}/cast)."""

    body_model = q.ArtifactCast


class ArtifactAvatarCommand(_ArtifactCommand, q.ArtifactAvatar):
    """Re-render one character avatar (POST /artifacts/{artifactId}/avatar)."""

    body_model = q.ArtifactAvatar


class ArtifactVoiceModificationCommand(_ArtifactCommand, q.ArtifactVoiceModification):
    """Apply a voice effect to a range of lines (POST /artifacts/{artifactId}/voice-modification)."""

    body_model = q.ArtifactVoiceModification


# --- series bible ---------------------------------------------------------------------------------
class SeriesBibleGenerateCommand(Command, q.SeriesBibleGenerate):
    """Generate or refresh the Series Bible (POST /story-projects/{projectId}/series-bible)."""

    path_fields = ("projectId",)
    body_model = q.SeriesBibleGenerate
    projectId: Id


class SeriesBibleUpdateCommand(Command, q.SeriesBibleUpdate):
    """Save caller-authored Series Bible content (PATCH /story-projects/{projectId}/series-bible)."""

    path_fields = ("projectId",)
    body_model = q.SeriesBibleUpdate
    projectId: Id


# --- watches --------------------------------------------------------------------------------------
class WatchCommand(Command):
    """Start or stop watching a resource created elsewhere."""

    resource: Literal["source", "plan", "job", "artifact"]
    id: Id
    projectId: Id | None = None

    @model_validator(mode="after")
    def _sources_need_project(self) -> WatchCommand:
        if self.resource == "source" and not self.projectId:
            raise ValueError("projectId is required to watch a source")
        return self


class WatchAddCommand(WatchCommand):
    """Watch a resource until it reaches a terminal state."""


class WatchRemoveCommand(WatchCommand):
    """Stop watching a resource."""


COMMAND_MODELS: dict[str, type[Command]] = {
    "project.create": ProjectCreateCommand,
    "project.update": ProjectUpdateCommand,
    "project.delete": ProjectDeleteCommand,
    "source.create": SourceCreateCommand,
    "source.delete": SourceDeleteCommand,
    "plan.create": PlanCreateCommand,
    "plan.approve": PlanApproveCommand,
    "plan.reject": PlanRejectCommand,
    "job.create": JobCreateCommand,
    "job.cancel": JobCancelCommand,
    "artifact.refine": ArtifactRefineCommand,
    "artifact.finalize": ArtifactFinalizeCommand,
    "artifact.render_video": ArtifactRenderVideoCommand,
    "artifact.voice": ArtifactVoiceCommand,
    "artifact.coverage": ArtifactCoverageCommand,
    "artifact.music": ArtifactMusicCommand,
    "artifact.sfx": ArtifactSfxCommand,
    "artifact.cast": ArtifactCastCommand,
    "artifact.avatar": ArtifactAvatarCommand,
    "artifact.voice_modification": ArtifactVoiceModificationCommand,
    "series_bible.generate": SeriesBibleGenerateCommand,
    "series_bible.update": SeriesBibleUpdateCommand,
    "watch.add": WatchAddCommand,
    "watch.remove": WatchRemoveCommand,
}


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
