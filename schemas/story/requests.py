"""Request bodies, with the limits the API reference documents, checked before a body leaves.

Conditional rules ("content is required for text sources") are field validators with
`validate_default=True` rather than model validators, so the error's `loc` names the field: the
bridge answers `invalid_command` with that field, and a model-level error would only say "payload".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from schemas.story.enums import (
    ArtifactType,
    FinalizeMode,
    NarrationPolicy,
    RefineScope,
    RetentionPolicy,
    SfxOp,
    SourceType,
    TableReadMode,
)
from schemas.wire.base import RequestModel

MAX_CONTENT_BYTES = 1_000_000
MAX_ARTIFACT_REQUESTS = 6
MAX_SOURCE_IDS = 20
MAX_STYLE_ITEMS = 10

Name = Annotated[str, Field(min_length=1, max_length=200)]
Label = Annotated[str, Field(max_length=200)]
Required = Annotated[str, Field(min_length=1)]
ShortList = Annotated[list[str], Field(max_length=MAX_STYLE_ITEMS)]
Description = Annotated[str, Field(max_length=4000)]


def _utf8_bytes_at_most_limit(value: str) -> str:
    # The limit is in UTF-8 bytes, not characters: 500,001 "é" are 1,000,002 bytes.
    size = len(value.encode("utf-8"))
    if size > MAX_CONTENT_BYTES:
        raise ValueError(f"content is {size} bytes (UTF-8); the limit is {MAX_CONTENT_BYTES}")
    return value


def _http_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("uri must be an absolute http or https URL")
    return value


def _optional(**kwargs: Any) -> Any:
    """A None default that is still validated, so a field validator can say it is required."""
    return Field(default=None, validate_default=True, **kwargs)


class ProjectCreate(RequestModel):
    name: Name
    description: Description | None = None
    metadata: dict[str, Any] | None = None


class ProjectUpdate(RequestModel):
    """PATCH: every field optional; an explicit `description: null` clears it (sent, not dropped)."""

    name: Name | None = None
    description: Description | None = None
    metadata: dict[str, Any] | None = None
    archived: bool | None = None


class SourceCreate(RequestModel):
    type: SourceType
    content: Annotated[str, AfterValidator(_utf8_bytes_at_most_limit)] | None = _optional()
    uri: Annotated[str, AfterValidator(_http_url)] | None = _optional()
    label: Label | None = None
    retentionPolicy: RetentionPolicy | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("content")
    @classmethod
    def _content_for_inline_types(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("type")
        if kind in (SourceType.TEXT, SourceType.MARKDOWN) and not value:
            raise ValueError(f"content is required for {kind.value} sources")
        return value

    @field_validator("uri")
    @classmethod
    def _uri_for_fetched_types(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("type")
        if kind in (SourceType.URL, SourceType.PDF) and not value:
            raise ValueError(f"uri is required for {kind.value} sources")
        return value


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
    """`creativeBrief` is not in the reference body table but the agent guide's happy path sends it."""

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
    """`projectId` is an optional cross-check; `artifactRequests` overrides the plan's own."""

    storyPlanId: Required
    projectId: str | None = None
    artifactRequests: ArtifactRequests | None = None


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("instruction must not be blank")
    return value


class ArtifactRefine(RequestModel):
    instruction: Annotated[str, AfterValidator(_not_blank)]
    scope: RefineScope | None = None


class ArtifactFinalize(RequestModel):
    mode: FinalizeMode | None = None


class ArtifactVoice(RequestModel):
    character: Required
    voiceId: Required
    voiceName: Required
    gender: str | None = None
    provider: str | None = None


class ArtifactCoverage(RequestModel):
    focusPrompt: str | None = None


class ArtifactMusic(RequestModel):
    """All optional. musicCoveragePercent is a fraction (0.35) or a whole percent (35): the API clamps.

    Beside the reference's shapes, the production client sends (FIELD-NOTES) a directive
    `{scope, mode, prompt}`, one scene's defined clip `{sceneIndex, clip}` (any clip fields) and
    `{regenerateScenes: [...]}`; `musicMode` ("defined_clips") is what the music read reports.
    """

    musicCoveragePercent: Annotated[float, Field(ge=0, le=100)] | None = None
    sceneIndex: Annotated[int, Field(ge=0)] | None = None
    prompt: str | None = None
    weight: Annotated[float, Field(ge=0, le=1)] | None = None
    enabled: bool | None = None
    scope: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    mode: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    musicMode: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    clip: dict[str, Any] | None = _optional()
    regenerateScenes: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] | None = (
        None
    )

    @field_validator("clip")
    @classmethod
    def _clip_names_its_scene(
        cls, value: dict[str, Any] | None, info: ValidationInfo
    ) -> dict[str, Any] | None:
        if value is not None and info.data.get("sceneIndex") is None:
            raise ValueError("clip needs sceneIndex (the scene whose defined clip it edits)")
        return value


class ArtifactSfx(RequestModel):
    """One cue edit: `add` needs entryIndex and a label or prompt; `update`/`remove` need the cue id."""

    op: SfxOp
    id: Required | None = _optional()
    entryIndex: Annotated[int, Field(ge=0)] | None = _optional()
    label: Label | None = None
    prompt: str | None = _optional()
    volume: Annotated[float, Field(ge=0, le=1)] | None = None
    triggerOffset: Literal["before", "with", "after"] | None = None
    regenerate: bool | None = None
    # Sent by the production client on `add` (FIELD-NOTES), not in the reference.
    generatedDurationS: Annotated[float, Field(gt=0, le=600)] | None = None
    enabled: bool | None = None

    @field_validator("id")
    @classmethod
    def _id_for_existing_cue(cls, value: str | None, info: ValidationInfo) -> str | None:
        op = info.data.get("op")
        if op in (SfxOp.UPDATE, SfxOp.REMOVE) and not value:
            raise ValueError(f"id is required for op {op.value}")
        return value

    @field_validator("entryIndex")
    @classmethod
    def _entry_for_add(cls, value: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("op") is SfxOp.ADD and value is None:
            raise ValueError("entryIndex is required for op add")
        return value

    @field_validator("prompt")
    @classmethod
    def _label_or_prompt_for_add(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("op") is SfxOp.ADD and not (value or info.data.get("label")):
            raise ValueError("op add needs a label or a prompt")
        return value


class CastEntry(RequestModel):
    character: Required
    voiceId: str | None = None
    voiceName: str | None = None
    gender: str | None = None
    provider: str | None = None
    avatar: bool | None = None
    avatarStyle: str | None = None
    refinement: str | None = None
    style: str | None = None


class ArtifactCast(RequestModel):
    """Restyle every avatar (`avatarStyle`) and/or recast per character (`entries`): at least one."""

    avatarStyle: str | None = None
    entries: list[CastEntry] | None = _optional()

    @field_validator("entries")
    @classmethod
    def _something_to_do(
        cls, value: list[CastEntry] | None, info: ValidationInfo
    ) -> list[CastEntry] | None:
        if not value and not info.data.get("avatarStyle"):
            raise ValueError("provide avatarStyle or at least one entries item")
        return value


class ArtifactAvatar(RequestModel):
    character: Required
    refinement: str | None = None
    style: str | None = None


class ArtifactVoiceModification(RequestModel):
    """A voice effect over lines startEntryIndex..endEntryIndex, both inclusive."""

    startEntryIndex: Annotated[int, Field(ge=0)]
    endEntryIndex: Annotated[int, Field(ge=0)]
    # The API applies autotune when absent; the default is not sent (bodies exclude unset fields).
    effect: Required = "autotune"
    params: dict[str, Any] | None = None

    @field_validator("endEntryIndex")
    @classmethod
    def _not_before_start(cls, value: int, info: ValidationInfo) -> int:
        start = info.data.get("startEntryIndex")
        if start is not None and value < start:
            raise ValueError(f"endEntryIndex {value} is before startEntryIndex {start}")
        return value


class SeriesBibleGenerate(RequestModel):
    instructions: str | None = None


class SeriesBibleUpdate(RequestModel):
    """A partial update: only the fields set are sent."""

    title: str | None = None
    content: dict[str, Any] | None = None


class PlanApprove(RequestModel):
    """Optional body: the production client confirms on behalf of a human (FIELD-NOTES)."""

    userConfirmed: bool | None = None
