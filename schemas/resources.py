"""Story API resources as returned (inner objects; the client unwraps the envelopes).

Every model is tolerant (`ApiModel`): statuses are plain strings so new values parse, unknown fields
are kept, and everything not always present is optional.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from schemas.base import ApiModel


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


class Digest(ApiModel):
    summary: str | None = None
    thesis: str | None = None
    claims: list[Claim] = Field(default_factory=list)
    evidence: list[dict[str, Any]] = Field(default_factory=list)
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
    currentVersion: int = 1
    createdAt: str | None = None
    updatedAt: str | None = None


class FinalizeState(ApiModel):
    status: str | None = None
    error: Any = None


class ManifestAudio(ApiModel):
    mode: str | None = None
    liveUrl: str | None = None
    startLiveUrl: str | None = None
    recordingUrl: str | None = None
    recordingDurationMs: int | None = None
    finalize: FinalizeState | None = None
    voiceMap: dict[str, Any] | None = None


class ManifestVideo(ApiModel):
    status: str | None = None
    renderUrl: str | None = None
    url: str | None = None


class Manifest(ApiModel):
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
    currentVersion: int = 1
    refineCount: int = 0
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
    currentVersion: int = 1
    startedAt: str | None = None
    completedAt: str | None = None
    artifacts: list[Artifact] = Field(default_factory=list)
    createdAt: str | None = None
    updatedAt: str | None = None


class Credits(ApiModel):
    balance: int | float | None = None
    monthlyBucketAllocated: int | float | None = None
    monthlyBucketUsed: int | float | None = None
    monthlyBucketRemaining: int | float | None = None
    perpetualBalance: int | float | None = None
    cycleStartedAt: str | None = None
    cycleExpiresAt: str | None = None


class Capabilities(ApiModel):
    version: str | None = None
    status: str | None = None
    auth: dict[str, Any] | None = None
    sources: dict[str, Any] | None = None
    artifacts: dict[str, Any] | None = None
    jobs: dict[str, Any] | None = None


class Deleted(ApiModel):
    id: str
    deletedAt: str | None = None


class SeriesBible(ApiModel):
    id: str | None = None
    projectId: str | None = None
    kind: str | None = None
    title: str | None = None
    currentVersion: int | None = None
    content: dict[str, Any] | None = None


class FinalizeResult(ApiModel):
    artifactId: str | None = None
    mode: str | None = None
    finalize: FinalizeState | None = None


class RenderVideoResult(ApiModel):
    artifactId: str | None = None
    render: dict[str, Any] | None = None


class VoiceResult(ApiModel):
    artifactId: str | None = None
    character: str | None = None
    voiceMap: dict[str, Any] | None = None


class CoverageStarted(ApiModel):
    reportId: str | None = None
    status: str | None = None


class Coverage(ApiModel):
    id: str | None = None
    reportId: str | None = None
    status: str | None = None
    report: dict[str, Any] | None = None


class MusicResult(ApiModel):
    artifactId: str | None = None
    status: str | None = None
    coveragePercent: float | None = None
    totalScenes: int | None = None


class Music(ApiModel):
    artifactId: str | None = None
    status: str | None = None
    coveragePercent: float | None = None
    totalScenes: int | None = None


class SfxCue(ApiModel):
    id: str | None = None
    label: str | None = None
    entryIndex: int | None = None
    soundUrl: str | None = None
    isDraft: bool | None = None


class SfxResult(ApiModel):
    artifactId: str | None = None
    cue: SfxCue | None = None


class Sfx(ApiModel):
    artifactId: str | None = None
    cues: list[SfxCue] = Field(default_factory=list)


class CastMember(ApiModel):
    character: str | None = None
    voiceId: str | None = None
    voiceName: str | None = None
    avatarUrl: str | None = None
    avatarStatus: str | None = None


class Cast(ApiModel):
    artifactId: str | None = None
    avatarStyle: str | None = None
    cast: list[CastMember] = Field(default_factory=list)


class CastResult(ApiModel):
    artifactId: str | None = None
    voiceMap: dict[str, Any] | None = None
    avatars: list[dict[str, Any]] = Field(default_factory=list)


class AvatarResult(ApiModel):
    artifactId: str | None = None
    character: str | None = None
    status: str | None = None
    chatToolJobId: str | None = None


class VoiceModificationResult(ApiModel):
    artifactId: str | None = None
    modificationId: str | None = None
    status: str | None = None


class Script(ApiModel):
    artifactId: str | None = None
    scope: str | None = None
    pageCount: int | None = None
    totalEntries: int | None = None
