"""The Story API's command payloads: path parameters + request body fields + `commandId`.

Each command model inherits its body model, so the body's fields and limits are written once.
`STORY_COMMANDS` lists the contract's write commands; the reads are in `schemas.story.reads`.
"""

from __future__ import annotations

from schemas.story import requests as q
from schemas.wire.commands import Command, Id


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


STORY_COMMANDS: tuple[type[Command], ...] = (
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
)
