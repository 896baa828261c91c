"""Request bodies, with the limits the API reference documents, checked before a body leaves."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import Field, model_validator

from schemas.base import RequestModel
from schemas.enums import (
    ArtifactType,
    FinalizeMode,
    NarrationPolicy,
    RefineScope,
    RetentionPolicy,
    SfxOp,
    SourceType,
    TableReadMode,
)

MAX_CONTENT_BYTES = 1_000_000
MAX_ARTIFACT_REQUESTS = 6
MAX_SOURCE_IDS = 20

Name = Annotated[str, Field(min_length=1, max_length=200)]
Label = Annotated[str, Field(max_length=200)]
ShortList = Annotated[list[str], Field(max_length=10)]


class ProjectCreate(RequestModel):
    name: Name
    description: Annotated[str, Field(max_length=4000)] | None = None
    metadata: dict[str, Any] | None = None


class ProjectUpdate(RequestModel):
    name: Name | None = None
    description: Annotated[str, Field(max_length=4000)] | None = None
    metadata: dict[str, Any] | None = None
    archived: bool | None = None


class SourceCreate(RequestModel):
    type: SourceType
    content: str | None = None
    uri: str | None = None
    label: Label | None = None
    retentionPolicy: RetentionPolicy | None = None
    metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _content_or_uri(self) -> SourceCreate:
        if self.type in (SourceType.TEXT, SourceType.MARKDOWN):
            if not self.content:
                raise ValueError(f"content is required for {self.type.value} sources")
            size = len(self.content.encode("utf-8"))
            if size > MAX_CONTENT_BYTES:
                raise ValueError(f"content is {size} bytes; the limit is {MAX_CONTENT_BYTES}")
        else:
            if not self.uri:
                raise ValueError(f"uri is required for {self.type.value} sources")
            if urlparse(self.uri).scheme not in ("http", "https") or not urlparse(self.uri).netloc:
                raise ValueError("uri must be an absolute http or https URL")
        return self


class Target(RequestModel):
    audience: Annotated[str, Field(min_length=1, max_length=200)]
    objective: Annotated[str, Field(min_length=1, max_length=400)]
    outcome: Annotated[str, Field(min_length=1, max_length=400)]
    tone: Annotated[str, Field(max_length=120)] | None = None
    industry: Annotated[str, Field(max_length=120)] | None = None
    distributionContext: Annotated[str, Field(max_length=300)] | None = None


class ArtifactRequest(RequestModel):
    type: ArtifactType
    mode: TableReadMode | None = None
    narrationPolicy: NarrationPolicy | None = None
    durationSeconds: Annotated[int, Field(ge=5)] | None = None
    aspectRatio: Annotated[str, Field(pattern=r"^\d+:\d+$")] | None = None
    includePdf: bool | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None


class StyleConstraints(RequestModel):
    preferredVisualStyle: str | None = None
    forbiddenVisuals: ShortList | None = None
    voicePreference: str | None = None
    musicPolicy: str | None = None
    brandSafety: ShortList | None = None


ArtifactRequests = Annotated[
    list[ArtifactRequest], Field(min_length=1, max_length=MAX_ARTIFACT_REQUESTS)
]


class PlanCreate(RequestModel):
    title: Annotated[str, Field(max_length=200)] | None = None
    target: Target
    artifactRequests: ArtifactRequests
    styleConstraints: StyleConstraints | None = None
    sourceIds: Annotated[list[str], Field(max_length=MAX_SOURCE_IDS)] | None = None
    autoApprove: bool | None = None
    creativeBrief: str | None = None


class PlanReject(RequestModel):
    reason: str | None = None


class JobCreate(RequestModel):
    storyPlanId: Annotated[str, Field(min_length=1)]
    projectId: str | None = None
    artifactRequests: ArtifactRequests | None = None


class ArtifactRefine(RequestModel):
    instruction: Annotated[str, Field(min_length=1)]
    scope: RefineScope | None = None


class ArtifactFinalize(RequestModel):
    mode: FinalizeMode | None = None


class ArtifactVoice(RequestModel):
    character: Annotated[str, Field(min_length=1)]
    voiceId: Annotated[str, Field(min_length=1)]
    voiceName: Annotated[str, Field(min_length=1)]
    gender: str | None = None
    provider: str | None = None


class ArtifactCoverage(RequestModel):
    focusPrompt: str | None = None


class ArtifactMusic(RequestModel):
    musicCoveragePercent: Annotated[float, Field(ge=0, le=100)] | None = None
    sceneIndex: Annotated[int, Field(ge=0)] | None = None
    prompt: str | None = None
    weight: Annotated[float, Field(ge=0, le=1)] | None = None
    enabled: bool | None = None


class ArtifactSfx(RequestModel):
    op: SfxOp
    id: str | None = None
    entryIndex: Annotated[int, Field(ge=0)] | None = None
    label: str | None = None
    prompt: str | None = None
    volume: Annotated[float, Field(ge=0, le=1)] | None = None
    triggerOffset: Literal["before", "with", "after"] | None = None
    regenerate: bool | None = None

    @model_validator(mode="after")
    def _op_fields(self) -> ArtifactSfx:
        if self.op in (SfxOp.UPDATE, SfxOp.REMOVE) and not self.id:
            raise ValueError(f"id is required for op {self.op.value}")
        if self.op is SfxOp.ADD and (self.entryIndex is None or not (self.label or self.prompt)):
            raise ValueError("op add needs entryIndex and a label or prompt")
        return self


class CastEntry(RequestModel):
    character: Annotated[str, Field(min_length=1)]
    voiceId: str | None = None
    voiceName: str | None = None
    gender: str | None = None
    provider: str | None = None
    avatar: bool | None = None
    refinement: str | None = None
    style: str | None = None


class ArtifactCast(RequestModel):
    avatarStyle: str | None = None
    entries: list[CastEntry] | None = None

    @model_validator(mode="after")
    def _something(self) -> ArtifactCast:
        if not self.avatarStyle and not self.entries:
            raise ValueError("provide avatarStyle or at least one entries item")
        return self


class ArtifactAvatar(RequestModel):
    character: Annotated[str, Field(min_length=1)]
    refinement: str | None = None
    style: str | None = None


class ArtifactVoiceModification(RequestModel):
    startEntryIndex: Annotated[int, Field(ge=0)]
    endEntryIndex: Annotated[int, Field(ge=0)]
    effect: Literal["autotune"] | None = None
    params: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _range(self) -> ArtifactVoiceModification:
        if self.endEntryIndex < self.startEntryIndex:
            raise ValueError("endEntryIndex must not be before startEntryIndex")
        return self


class SeriesBibleGenerate(RequestModel):
    instructions: str | None = None


class SeriesBibleUpdate(RequestModel):
    title: str | None = None
    content: dict[str, Any] | None = None
