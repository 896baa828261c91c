"""What the artifact actions answer, and the side resources they act on (coverage, music, SFX, cast).

Tolerant like every response model (`ApiModel`): most of these endpoints are thinly documented or
undocumented (FIELD-NOTES.md), so everything is optional and unknown fields are kept.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.wire.base import ApiModel


class SeriesBible(ApiModel):
    """The `document` of GET/POST/PATCH /story-projects/{id}/series-bible."""

    id: str | None = None
    projectId: str | None = None
    kind: str | None = None
    title: str | None = None
    generatedFrom: Any = None
    currentVersion: int | None = None
    content: dict[str, Any] | None = None
    createdAt: str | None = None
    updatedAt: str | None = None


class FinalizeState(ApiModel):
    """`manifest.audio.finalize` and the `finalize` of a finalize answer: a FinalizeStage value."""

    status: str | None = None
    error: Any = None
    # Field notes: a finalize answer may already carry the durable URL (nothing left to poll).
    recordingUrl: str | None = None


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
    """POST /coverage: `{reportId, status: "generating"}`; poll GET /coverage?reportId=."""

    reportId: str | None = None
    status: str | None = None


CoverageRequested = CoverageStarted
"""The name the schemas brief used; `CoverageStarted` is the one the client uses."""


class Coverage(ApiModel):
    """GET /coverage's `coverage` (null until requested); `report` is set once `complete`."""

    id: str | None = None
    reportId: str | None = None
    status: str | None = None
    report: dict[str, Any] | None = None


class Music(ApiModel):
    """Adaptive music readiness (a MusicStatus value: none, generating, ready)."""

    artifactId: str | None = None
    status: str | None = None
    coveragePercent: float | None = None
    totalScenes: int | None = None
    # FIELD-NOTES: with musicMode "defined_clips" the per-scene beds stream in one by one.
    musicMode: str | None = None
    definedClips: list[DefinedClip] = Field(default_factory=list)


class DefinedClip(ApiModel):
    """One scene's music bed: status pending | rendering | ready | failed (any clip fields kept)."""

    sceneIndex: int | None = None
    status: str | None = None


class MusicResult(Music):
    """POST /music: the Music shape; scene edits add `adaptiveSceneDirection`."""

    adaptiveSceneDirection: Any = None


class SfxCue(ApiModel):
    id: str | None = None
    label: str | None = None
    entryIndex: int | None = None
    prompt: str | None = None
    volume: float | None = None
    triggerOffset: str | None = None
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
    gender: str | None = None
    provider: str | None = None
    avatarUrl: str | None = None
    avatarStyle: str | None = None
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
    """The per-range status then lives in `manifest.audio.modifications[]` (field notes)."""

    artifactId: str | None = None
    modificationId: str | None = None
    status: str | None = None


class Script(ApiModel):
    """GET /artifacts/{id}/script?scope=page|scene|character|range: loose, scope-dependent shape."""

    artifactId: str | None = None
    scope: str | None = None
    pageCount: int | None = None
    totalEntries: int | None = None
    scenes: list[dict[str, Any]] = Field(default_factory=list)
    characters: list[dict[str, Any]] = Field(default_factory=list)
    selection: dict[str, Any] | None = None
