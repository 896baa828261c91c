"""Post-creation operations on a READY table read: finalize (audio, video), recast, cast, avatars.

None creates a revision or moves a share URL. Paid ones (finalize audio 6, video 12) are replay-safe:
while a run is in flight or complete, asking again returns its status without a second charge.
"""

from __future__ import annotations

from typing import Any

from bridge.providers.story.sandbox.errors import SandboxError
from bridge.providers.story.sandbox.world_artifact_core import ArtifactsMixin
from bridge.providers.story.sandbox.world_base import iso
from bridge.providers.story.sandbox.world_state import ArtifactRec, view
from schemas.story.requests import ArtifactVoice

FINALIZE_AUDIO_CREDITS = 6
FINALIZE_VIDEO_CREDITS = 12
AUDIO_IN_FLIGHT = ("queued", "rendering", "uploading", "complete")
VIDEO_IN_FLIGHT = ("queued", "rendering", "complete")
RECORDING_MS = 184_000


class ArtifactOpsMixin(ArtifactsMixin):
    def _staged(
        self, art: ArtifactRec, start: float, step: float, stages: list[str], apply: Any
    ) -> None:
        """Schedule `apply(stage, at)` for each later stage, skipped once another run began."""
        token = art.render_token

        for index, stage in enumerate(stages, start=1):

            def run(at: float, stage: str = stage) -> None:
                if art.render_token == token:
                    apply(stage, at)
                    self.stamp(art.body, at)

            self.scheduler.at(start + step * index, run)

    # -- finalize / video -----------------------------------------------------------------------

    def finalize_audio(self, artifact_id: str) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            art = self._artifact(artifact_id)
            audio = art.body["manifest"]["audio"]
            current = (audio.get("finalize") or {}).get("status")
            if current in AUDIO_IN_FLIGHT:
                return {"artifactId": art.id, "mode": "audio", "finalize": dict(audio["finalize"])}
            if not self.config.recording_available:
                audio["finalize"] = {"status": "needs_recording"}
                return {
                    "artifactId": art.id,
                    "mode": "audio",
                    "finalize": {"status": "needs_recording"},
                }
            reservation = self.ledger.reserve(FINALIZE_AUDIO_CREDITS)
            self.ledger.settle(reservation, FINALIZE_AUDIO_CREDITS)
            art.render_token += 1
            audio["finalize"] = {"status": "queued", "error": None}
            self.stamp(art.body, now)

            def apply(stage: str, at: float) -> None:
                audio["finalize"]["status"] = stage
                if stage == "complete":
                    audio["recordingUrl"] = (
                        f"https://cdn.sleeperhit.studio/table-reads/{art.id}.mp3"
                    )
                    audio["recordingDurationMs"] = RECORDING_MS
                    audio["finalize"]["completedAt"] = iso(at)
                    # Seen in production: finalize may already carry the URL (nothing to poll).
                    audio["finalize"]["recordingUrl"] = audio["recordingUrl"]

            self._staged(
                art,
                now,
                self.durations.finalize_stage,
                ["rendering", "uploading", "complete"],
                apply,
            )
            return {"artifactId": art.id, "mode": "audio", "finalize": {"status": "queued"}}

    def render_video(self, artifact_id: str) -> dict[str, Any]:
        """The MP4 render (render-video, or finalize mode video); returns the video block."""
        with self.lock:
            now = self.sync()
            art = self._artifact(artifact_id)
            if not art.body["tableReadShareLinkId"]:
                raise SandboxError(
                    "artifact_not_ready",
                    f"Artifact {artifact_id} has no live share link yet.",
                    details={"status": art.body["status"]},
                )
            video = art.body["manifest"]["video"]
            if video["status"] in VIDEO_IN_FLIGHT:
                return dict(video)
            reservation = self.ledger.reserve(FINALIZE_VIDEO_CREDITS)
            self.ledger.settle(reservation, FINALIZE_VIDEO_CREDITS)
            art.render_token += 1
            video.update(status="queued", url=None)
            self.stamp(art.body, now)

            def apply(stage: str, at: float) -> None:
                video["status"] = stage
                if stage == "complete":
                    video["url"] = f"https://cdn.sleeperhit.studio/table-reads/{art.id}.mp4"

            self._staged(art, now, self.durations.video_stage, ["rendering", "complete"], apply)
            return dict(video)

    # -- recast and cast ------------------------------------------------------------------------

    def set_voice(self, artifact_id: str, req: ArtifactVoice) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            art = self._artifact(artifact_id)
            voice_map = art.body["manifest"]["audio"].setdefault("voiceMap", {})
            entry = {"voiceId": req.voiceId, "voiceName": req.voiceName}
            entry.update(
                {k: v for k, v in (("gender", req.gender), ("provider", req.provider)) if v}
            )
            voice_map[req.character] = entry
            if req.character not in [c for c, _ in art.cast]:
                art.cast.append((req.character, req.gender or "neutral"))
            self.stamp(art.body, now)
            return {"artifactId": art.id, "character": req.character, "voiceMap": view(voice_map)}

    def get_cast(self, artifact_id: str) -> dict[str, Any]:
        with self.lock:
            self.sync()
            art = self._artifact(artifact_id, ready=False)  # reads work mid-refine
            manifest = art.body["manifest"] or {"audio": {}}
            voice_map = manifest["audio"].get("voiceMap") or {}
            cast = []
            for character, gender in art.cast:
                voice = voice_map.get(character, {})
                avatar = art.avatars.get(character, {})
                cast.append(
                    {
                        "character": character,
                        "voiceId": voice.get("voiceId"),
                        "voiceName": voice.get("voiceName"),
                        "gender": voice.get("gender", gender),
                        "provider": voice.get("provider", "cartesia"),
                        "avatarUrl": avatar.get("url", self._avatar_url(art, character, 0)),
                        "avatarStyle": avatar.get("style", art.avatar_style),
                        "avatarStatus": avatar.get("status", "ready"),
                    }
                )
            return {"artifactId": art.id, "avatarStyle": art.avatar_style, "cast": cast}

    def _avatar_url(self, art: ArtifactRec, character: str, version: int) -> str:
        return f"https://cdn.sleeperhit.studio/avatars/{art.id}/{character.lower()}-v{version}.png"

    def _queue_avatar(
        self, art: ArtifactRec, character: str, style: str | None, now: float
    ) -> dict[str, Any]:
        if character not in [c for c, _ in art.cast]:
            raise SandboxError(
                "validation_failed",
                f"character: {character} is not in the cast of artifact {art.id}",
                details={"field": "character"},
            )
        previous = art.avatars.get(character, {})
        version = int(previous.get("version", 0)) + 1
        job_id = self.ids.next("cmtj")
        state = {
            "status": "queued",
            "style": style or art.avatar_style,
            "url": previous.get("url", self._avatar_url(art, character, 0)),
            "version": version,
            "job": job_id,
        }
        art.avatars[character] = state
        step = self.durations.avatar / 2

        def rendering(_at: float) -> None:
            if state["job"] == job_id and state["status"] == "queued":
                state["status"] = "rendering"

        def ready(_at: float) -> None:
            if state["job"] == job_id:
                state.update(status="ready", url=self._avatar_url(art, character, version))

        self.scheduler.at(now + step, rendering)
        self.scheduler.at(now + 2 * step, ready)
        return {"character": character, "status": "queued", "chatToolJobId": job_id}

    def queue_avatar(self, artifact_id: str, character: str, style: str | None) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            art = self._artifact(artifact_id)
            return {"artifactId": art.id, **self._queue_avatar(art, character, style, now)}

    def recast(
        self, artifact_id: str, avatar_style: str | None, entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Restyle every portrait (avatarStyle, no entries) or reassign / re-render named ones."""
        with self.lock:
            now = self.sync()
            art = self._artifact(artifact_id)
            voice_map = art.body["manifest"]["audio"].setdefault("voiceMap", {})
            if avatar_style:
                art.avatar_style = avatar_style
            avatars = []
            for entry in entries:
                character = entry["character"]
                if character not in [c for c, _ in art.cast]:
                    art.cast.append((character, entry.get("gender") or "neutral"))
                voice = {
                    k: entry[k]
                    for k in ("voiceId", "voiceName", "gender", "provider")
                    if entry.get(k)
                }
                if voice:
                    voice_map[character] = {**voice_map.get(character, {}), **voice}
                if entry.get("avatar") is not False and (
                    entry.get("avatar")
                    or entry.get("refinement")
                    or entry.get("style")
                    or avatar_style
                ):
                    avatars.append(self._queue_avatar(art, character, entry.get("style"), now))
            if avatar_style and not entries:
                avatars = [self._queue_avatar(art, c, None, now) for c, _ in art.cast]
            self.stamp(art.body, now)
            return {"artifactId": art.id, "voiceMap": view(voice_map), "avatars": avatars}
