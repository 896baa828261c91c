"""Renders of a READY table read: finalize audio (the MP3) and the video (the MP4).

Neither creates a revision or moves a share URL. Both are paid (audio 6, video 12) and replay-safe:
while a run is in flight or complete, asking again returns its status without a second charge.
Each run goes through its stages on the clock; a newer run makes an older run's stages no-ops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.account import AccountStore
from bridge.sandboxes.story.world.artifacts import ArtifactRec, ArtifactStore
from bridge.sandboxes.story.world.kernel import Kernel, iso, stamp

FINALIZE_AUDIO_CREDITS = 6
FINALIZE_VIDEO_CREDITS = 12
AUDIO_IN_FLIGHT = ("queued", "rendering", "uploading", "complete")
VIDEO_IN_FLIGHT = ("queued", "rendering", "complete")
RECORDING_MS = 184_000


class RenderStore:
    def __init__(self, kernel: Kernel, artifacts: ArtifactStore, account: AccountStore) -> None:
        self.k = kernel
        self.artifacts = artifacts
        self.account = account
        self.runs: dict[str, int] = {}  # artifact id -> the latest render run's number

    def _staged(
        self,
        art: ArtifactRec,
        start: float,
        step: float,
        stages: list[str],
        apply: Callable[[str, float], None],
    ) -> None:
        """A new run: schedule `apply(stage, at)` for each later stage, skipped once another
        run began."""
        token = self.runs[art.id] = self.runs.get(art.id, 0) + 1

        for index, stage in enumerate(stages, start=1):

            def run(at: float, stage: str = stage) -> None:
                if self.runs[art.id] == token:
                    apply(stage, at)
                    stamp(art.body, at)

            self.k.at(start + step * index, run)

    # -- operations -----------------------------------------------------------------------------

    def finalize_audio(self, artifact_id: str) -> dict[str, Any]:
        with self.k.moment() as now:
            art = self.artifacts.record(artifact_id)
            audio = art.body["manifest"]["audio"]
            current = (audio.get("finalize") or {}).get("status")
            if current in AUDIO_IN_FLIGHT:
                return {"artifactId": art.id, "mode": "audio", "finalize": dict(audio["finalize"])}
            if not self.k.config.recording_available:
                audio["finalize"] = {"status": "needs_recording"}
                return {
                    "artifactId": art.id,
                    "mode": "audio",
                    "finalize": {"status": "needs_recording"},
                }
            self.account.ledger.charge(FINALIZE_AUDIO_CREDITS)
            audio["finalize"] = {"status": "queued", "error": None}
            stamp(art.body, now)

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
                self.k.durations.finalize_stage,
                ["rendering", "uploading", "complete"],
                apply,
            )
            return {"artifactId": art.id, "mode": "audio", "finalize": {"status": "queued"}}

    def render_video(self, artifact_id: str) -> dict[str, Any]:
        """The MP4 render (render-video, or finalize mode video); returns the video block."""
        with self.k.moment() as now:
            art = self.artifacts.record(artifact_id)
            if not art.body["tableReadShareLinkId"]:
                raise StorySandboxError(
                    "artifact_not_ready",
                    f"Artifact {artifact_id} has no live share link yet.",
                    details={"status": art.body["status"]},
                )
            video = art.body["manifest"]["video"]
            if video["status"] in VIDEO_IN_FLIGHT:
                return dict(video)
            self.account.ledger.charge(FINALIZE_VIDEO_CREDITS)
            video.update(status="queued", url=None)
            stamp(art.body, now)

            def apply(stage: str, at: float) -> None:
                video["status"] = stage
                if stage == "complete":
                    video["url"] = f"https://cdn.sleeperhit.studio/table-reads/{art.id}.mp4"

            self._staged(art, now, self.k.durations.video_stage, ["rendering", "complete"], apply)
            return dict(video)
