"""Artifacts: reads, and the actions that mutate a table read in place (names mirror commands)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic

from bridge.http.ratelimit import Priority
from bridge.http.transport import ApiResponse
from bridge.providers.story.endpoints.base import ClientCore, seg
from schemas.story import requests as q
from schemas.story import resources as r

__all__ = ["ArtifactsMixin"]

COMMAND = Priority.COMMAND
M = TypeVar("M", bound=pydantic.BaseModel)
Body = Mapping[str, Any]


class ArtifactsMixin(ClientCore):
    """``/artifacts/{id}`` and its sub-resources."""

    async def _action(
        self,
        artifact_id: str,
        action: str,
        model: type[M],
        body: Any,
        body_model: type[pydantic.BaseModel] | None,
        idempotency_key: str | None,
        priority: Priority,
        envelope: str | None = None,
    ) -> ApiResponse[M]:
        return await self._call(
            "POST",
            f"artifacts/{seg(artifact_id)}/{action}",
            model,
            envelope=envelope,
            body=body,
            body_model=body_model,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    async def get_artifact(
        self, artifact_id: str, revision: int | None = None, *, priority: Priority = COMMAND
    ) -> ApiResponse[r.Artifact]:
        """The artifact and its manifest (``{"artifact": ...}``); ``revision`` for history."""
        return await self._call(
            "GET",
            f"artifacts/{seg(artifact_id)}",
            r.Artifact,
            envelope="artifact",
            params={"revision": revision},
            priority=priority,
        )

    async def artifact_refine(
        self,
        artifact_id: str,
        body: q.ArtifactRefine | Body,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.Job]:
        """Revise in place; returns the story job to poll (``{"storyJob": ...}``)."""
        return await self._action(
            artifact_id, "refine", r.Job, body, q.ArtifactRefine, idempotency_key, priority,
            envelope="storyJob",
        )  # fmt: skip

    async def artifact_finalize(
        self,
        artifact_id: str,
        body: q.ArtifactFinalize | Body | None = None,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.FinalizeResult]:
        """Durable MP3 (``mode: audio``, default) or MP4; replay-safe upstream."""
        return await self._action(
            artifact_id, "finalize", r.FinalizeResult, body, q.ArtifactFinalize,
            idempotency_key, priority,
        )  # fmt: skip

    async def artifact_render_video(
        self,
        artifact_id: str,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.RenderVideoResult]:
        """The opt-in MP4 render (separately charged)."""
        return await self._action(
            artifact_id, "render-video", r.RenderVideoResult, None, None, idempotency_key, priority
        )

    async def artifact_voice(
        self,
        artifact_id: str,
        body: q.ArtifactVoice | Body,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.VoiceResult]:
        """Recast one character's voice."""
        return await self._action(
            artifact_id, "voice", r.VoiceResult, body, q.ArtifactVoice, idempotency_key, priority
        )

    async def artifact_coverage(
        self,
        artifact_id: str,
        body: q.ArtifactCoverage | Body | None = None,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.CoverageStarted]:
        """Request script coverage; poll :meth:`get_artifact_coverage` with the report id."""
        return await self._action(
            artifact_id, "coverage", r.CoverageStarted, body, q.ArtifactCoverage,
            idempotency_key, priority,
        )  # fmt: skip

    async def get_artifact_coverage(
        self, artifact_id: str, report_id: str | None = None, *, priority: Priority = COMMAND
    ) -> ApiResponse[r.Coverage | None]:
        """The latest (or ``report_id``) coverage report; ``data`` is None when none exists."""
        return await self._call_optional(
            f"artifacts/{seg(artifact_id)}/coverage",
            r.Coverage,
            envelope="coverage",
            params={"reportId": report_id},
            priority=priority,
        )

    async def artifact_music(
        self,
        artifact_id: str,
        body: q.ArtifactMusic | Body | None = None,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.MusicResult]:
        """(Re)generate adaptive music, or tune one scene (``sceneIndex``)."""
        return await self._action(
            artifact_id, "music", r.MusicResult, body, q.ArtifactMusic, idempotency_key, priority
        )

    async def get_artifact_music(
        self, artifact_id: str, *, priority: Priority = COMMAND
    ) -> ApiResponse[r.Music]:
        return await self._call(
            "GET", f"artifacts/{seg(artifact_id)}/music", r.Music, envelope="music",
            priority=priority,
        )  # fmt: skip

    async def artifact_sfx(
        self,
        artifact_id: str,
        body: q.ArtifactSfx | Body,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.SfxResult]:
        """Add, update or remove one timed sound-effect cue."""
        return await self._action(
            artifact_id, "sfx", r.SfxResult, body, q.ArtifactSfx, idempotency_key, priority
        )

    async def get_artifact_sfx(
        self, artifact_id: str, *, priority: Priority = COMMAND
    ) -> ApiResponse[r.Sfx]:
        return await self._call(
            "GET", f"artifacts/{seg(artifact_id)}/sfx", r.Sfx, envelope="sfx", priority=priority
        )

    async def artifact_cast(
        self,
        artifact_id: str,
        body: q.ArtifactCast | Body,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.CastResult]:
        """Restyle every portrait and/or reassign voices in one call."""
        return await self._action(
            artifact_id, "cast", r.CastResult, body, q.ArtifactCast, idempotency_key, priority
        )

    async def get_artifact_cast(
        self, artifact_id: str, *, priority: Priority = COMMAND
    ) -> ApiResponse[r.Cast]:
        return await self._call(
            "GET", f"artifacts/{seg(artifact_id)}/cast", r.Cast, priority=priority
        )

    async def artifact_avatar(
        self,
        artifact_id: str,
        body: q.ArtifactAvatar | Body,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.AvatarResult]:
        """Re-render one character's avatar."""
        return await self._action(
            artifact_id, "avatar", r.AvatarResult, body, q.ArtifactAvatar, idempotency_key,
            priority,
        )  # fmt: skip

    async def artifact_voice_modification(
        self,
        artifact_id: str,
        body: q.ArtifactVoiceModification | Body,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.VoiceModificationResult]:
        """Apply a voice effect (autotune) to a range of dialogue entries."""
        return await self._action(
            artifact_id, "voice-modification", r.VoiceModificationResult, body,
            q.ArtifactVoiceModification, idempotency_key, priority,
        )  # fmt: skip

    async def get_artifact_script(
        self,
        artifact_id: str,
        scope: str = "page",
        *,
        priority: Priority = COMMAND,
        **params: Any,
    ) -> ApiResponse[r.Script]:
        """The backing script by ``scope`` (page|scene|character|range) plus its parameters."""
        return await self._call(
            "GET",
            f"artifacts/{seg(artifact_id)}/script",
            r.Script,
            envelope="script",
            params={"scope": scope, **params},
            priority=priority,
        )
