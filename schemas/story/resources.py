"""Story API resources as returned (inner objects; `schemas.story.envelopes` unwraps the envelopes).

Every model is tolerant (`ApiModel`): statuses are plain strings so new values parse (compare them
with `schemas.story.enums`), unknown fields are kept, and everything not always present is optional.
The artifact actions' answers and side resources live in `schemas.story.actions` and are re-exported here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from schemas.story.actions import (
    AvatarResult,
    Cast,
    CastMember,
    CastResult,
    Coverage,
    CoverageRequested,
    CoverageStarted,
    FinalizeResult,
    FinalizeState,
    Music,
    MusicResult,
    RenderVideoResult,
    Script,
    SeriesBible,
    Sfx,
    SfxCue,
    SfxResult,
    VoiceModificationResult,
    VoiceResult,
)
from schemas.wire.base import ApiModel


def _null_as(default: int) -> BeforeValidator:
    return BeforeValidator(lambda value: default if value is None else value)


# Counters the docs say start at 1 / 0: an explicit null reads as the start value, not a parse error.
Version = Annotated[int, _null_as(1)]
Count = Annotated[int, _null_as(0)]


class Project(ApiModel):
    id: str
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    archivedAt: str | None = None
    sourceCount: int | None = None
    createdAt: str | None = None
    updatedAt: str | None = None


class Claim(ApiModel):
    statement: str | None = None
    kind: str | None = None
    attribution: str | None = None


class Evidence(ApiModel):
    """Support for `claims[claimIndex]`."""

    claimIndex: int | None = None
    support: str | None = None


class Digest(ApiModel):
    """A source's digest, populated when `digestStatus` is READY."""

    summary: str | None = None
    thesis: str | None = None
    claims: list[Claim] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)
    rightsNotes: list[str] = Field(default_factory=list)


class Source(ApiModel):
    id: str
    projectId: str | None = None
    type: str | None = None
    label: str | None = None
    uri: str | None = None
    # Field notes: a READY source has been seen without `status`; missing means READY.
    status: str = "READY"
    retentionPolicy: str | None = None
    byteSize: int | None = None
    tokenEstimate: int | None = None
    contentHash: str | None = None
    extractedTextPreview: str | None = None
    extractedAt: str | None = None
    failureCode: str | None = None
    failureMessage: str | None = None
    metadata: dict[str, Any] | None = None
    digestStatus: str | None = None
    digest: Digest | None = None
    digestFailureCode: str | None = None
    digestFailureMessage: str | None = None
    digestedAt: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _missing_status_is_ready(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("status") is None:
            return {**data, "status": "READY"}
        return data


class LineItem(ApiModel):
    kind: str | None = None
    label: str | None = None
    credits: int | float | None = None


class Quote(ApiModel):
    currency: str | None = None
    total: int | float | None = None
    lineItems: list[LineItem] = Field(default_factory=list)
    notes: list[Any] = Field(default_factory=list)
    computedAt: str | None = None


class Plan(ApiModel):
    """`plan` (the plan envelope) is set at REQUIRES_APPROVAL and APPROVED; kept as a dict."""

    id: str
    projectId: str | None = None
    status: str
    title: str | None = None
    target: dict[str, Any] | None = None
    artifactRequests: list[dict[str, Any]] = Field(default_factory=list)
    sourceIds: list[str] = Field(default_factory=list)
    autoApprove: bool | None = None
    plan: dict[str, Any] | None = None
    quote: Quote | None = None
    failureCode: str | None = None
    failureMessage: str | None = None
    approvedAt: str | None = None
    rejectedAt: str | None = None
    rejectionReason: str | None = None
    styleConstraints: dict[str, Any] | None = None
    modelUsed: str | None = None
    providerUsed: str | None = None
    generatedAt: str | None = None
    currentVersion: Version = 1
    createdAt: str | None = None
    updatedAt: str | None = None


class ManifestAudio(ApiModel):
    mode: str | None = None
    liveUrl: str | None = None
    startLiveUrl: str | None = None
    recordingUrl: str | None = None
    recordingDurationMs: int | None = None
    finalize: FinalizeState | None = None
    voiceMap: dict[str, Any] | None = None
    # Field notes: per-range status of POST /voice-modification.
    modifications: list[dict[str, Any]] = Field(default_factory=list)


class ManifestVideo(ApiModel):
    """`status` is a VideoStatus value; `url` is set once complete."""

    status: str | None = None
    renderUrl: str | None = None
    url: str | None = None


class Manifest(ApiModel):
    """Populated when the artifact is READY; poll it for audio.finalize.status and video.status."""

    type: str | None = None
    status: str | None = None
    shareToken: str | None = None
    theaterUrl: str | None = None
    theaterFullscreenUrl: str | None = None
    audio: ManifestAudio | None = None
    video: ManifestVideo | None = None
    expiresAt: str | None = None


class Artifact(ApiModel):
    id: str
    storyJobId: str | None = None
    type: str | None = None
    status: str
    manifest: Manifest | None = None
    currentVersion: Version = 1
    refineCount: Count = 0
    tableReadShareLinkId: str | None = None
    failureCode: str | None = None
    failureMessage: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None


class JobCredits(ApiModel):
    quoted: int | float | None = None
    reserved: int | float | None = None
    settled: int | float | None = None
    released: int | float | None = None


class Job(ApiModel):
    """A job carries its artifacts; `credits` is the quoted/reserved/settled/released story."""

    id: str
    projectId: str | None = None
    storyPlanId: str | None = None
    status: str
    artifactRequests: list[dict[str, Any]] = Field(default_factory=list)
    quote: Quote | None = None
    credits: JobCredits | None = None
    creditReservationId: str | None = None
    progress: Any = None
    failureCode: str | None = None
    failureMessage: str | None = None
    modelUsed: str | None = None
    currentVersion: Version = 1
    startedAt: str | None = None
    completedAt: str | None = None
    artifacts: list[Artifact] = Field(default_factory=list)
    createdAt: str | None = None
    updatedAt: str | None = None


class CreditBalance(ApiModel):
    balance: int | float | None = None
    monthlyBucketAllocated: int | float | None = None
    monthlyBucketUsed: int | float | None = None
    monthlyBucketRemaining: int | float | None = None
    perpetualBalance: int | float | None = None
    cycleStartedAt: str | None = None
    cycleExpiresAt: str | None = None


class Capabilities(ApiModel):
    """The live feature manifest: kept loose on purpose, it changes as features ship."""

    version: str | None = None
    status: str | None = None
    auth: dict[str, Any] | None = None
    projects: dict[str, Any] | None = None
    sources: dict[str, Any] | None = None
    artifacts: dict[str, Any] | None = None
    jobs: dict[str, Any] | None = None
    docs: dict[str, Any] | None = None


class Deleted(ApiModel):
    """DELETE answers `{id, deletedAt}` (not enveloped)."""

    id: str
    deletedAt: str | None = None


__all__ = [
    "Artifact",
    "AvatarResult",
    "Capabilities",
    "Cast",
    "CastMember",
    "CastResult",
    "Claim",
    "Coverage",
    "CoverageRequested",
    "CoverageStarted",
    "CreditBalance",
    "Deleted",
    "Digest",
    "Evidence",
    "FinalizeResult",
    "FinalizeState",
    "Job",
    "JobCredits",
    "LineItem",
    "Manifest",
    "ManifestAudio",
    "ManifestVideo",
    "Music",
    "MusicResult",
    "Plan",
    "Project",
    "Quote",
    "RenderVideoResult",
    "Script",
    "SeriesBible",
    "Sfx",
    "SfxCue",
    "SfxResult",
    "Source",
    "VoiceModificationResult",
    "VoiceResult",
]
