"""Project additions to the contract's commands (docs/CONTRACT.md, "Project additions"): the rest of
the production client's pipeline (FIELD-NOTES) and the endpoints the reference documents besides.

Kept in their own module so the contract's own commands (`schemas.story.commands`) read as the contract
does; `schemas.story.commands` registers these in `COMMAND_MODELS` like any other.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from schemas.story import requests_publishing as p
from schemas.story.commands import _ArtifactCommand
from schemas.wire.base import RequestModel
from schemas.wire.commands import Command, Id


# --- recovery -------------------------------------------------------------------------------------
class PlanResumeCommand(Command):
    """Resume a plan that stopped (POST /story-plans/{planId}/resume)."""

    command = "plan.resume"
    path_fields = ("planId",)
    planId: Id


class JobResumeCommand(Command):
    """Resume a job that stopped (POST /story-jobs/{jobId}/resume)."""

    command = "job.resume"
    path_fields = ("jobId",)
    jobId: Id


# --- publishing releases --------------------------------------------------------------------------
class ReleaseCreateCommand(Command, p.ReleaseCreate):
    """Create a draft release from an artifact (POST /publishing-series/{seriesId}/releases)."""

    command = "release.create"
    path_fields = ("seriesId",)
    body_model = p.ReleaseCreate
    seriesId: Id


class _ReleaseCommand(Command):
    path_fields = ("releaseId",)
    releaseId: Id


class ReleaseDescribeCommand(_ReleaseCommand, p.ReleaseDescribe):
    """Generate a release's description (POST /publishing-releases/{releaseId}/description/generate)."""

    command = "release.describe"
    body_model = p.ReleaseDescribe


class ReleasePublishCommand(_ReleaseCommand, p.ReleasePublish):
    """Publish a release (POST /publishing-releases/{releaseId}/publish)."""

    command = "release.publish"
    body_model = p.ReleasePublish


class ReleaseRefreshMediaCommand(_ReleaseCommand, p.ReleaseRefreshMedia):
    """Point a release's media at an artifact (POST /publishing-releases/{releaseId}/refresh-media)."""

    command = "release.refresh_media"
    body_model = p.ReleaseRefreshMedia


class ReleaseListCommand(Command):
    """One page of a series' releases (GET /publishing-series/{seriesId}/releases)."""

    command = "release.list"
    path_fields = ("seriesId",)
    seriesId: Id
    status: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] | None = None
    cursor: Annotated[str, Field(min_length=1, max_length=500)] | None = None


# --- live read, guidance, cast canon --------------------------------------------------------------
class ArtifactStartLiveCommand(_ArtifactCommand):
    """Start a table read's live performance (POST /api/share/table-read/start-live).

    `token` is the artifact's share token; without one the bridge reads it from the artifact.
    """

    command = "artifact.start_live"
    token: Annotated[str, Field(min_length=1)] | None = None


class AgentGuidanceGetCommand(Command):
    """Admin-managed workflow guidance (GET /agent-guidance)."""

    command = "agent_guidance.get"


class CastCanonUpdate(RequestModel):
    """The cast canon's PATCH body (undocumented; the series bible's document shape)."""

    title: str | None = None
    content: dict[str, Any] | None = None


class CastCanonUpdateCommand(Command, CastCanonUpdate):
    """Save caller-authored cast canon content (PATCH /story-projects/{projectId}/cast-canon)."""

    command = "cast_canon.update"
    path_fields = ("projectId",)
    body_model = CastCanonUpdate
    projectId: Id


PIPELINE_COMMANDS: tuple[type[Command], ...] = (
    PlanResumeCommand,
    JobResumeCommand,
    ReleaseCreateCommand,
    ReleaseDescribeCommand,
    ReleasePublishCommand,
    ReleaseRefreshMediaCommand,
    ReleaseListCommand,
    ArtifactStartLiveCommand,
    AgentGuidanceGetCommand,
    CastCanonUpdateCommand,
)
"""The project's additions, registered in `schemas.story.commands.COMMAND_MODELS`."""
