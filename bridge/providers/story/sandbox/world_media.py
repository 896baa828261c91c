"""Side work on a READY table read that never moves a share URL: coverage, music, sound effects."""

from __future__ import annotations

from typing import Any

from bridge.providers.story.sandbox.errors import SandboxError
from bridge.providers.story.sandbox.world_base import iso
from bridge.providers.story.sandbox.world_content import coverage_report
from bridge.providers.story.sandbox.world_music import MusicClipsMixin, is_defined_clips_request
from bridge.providers.story.sandbox.world_state import view
from schemas.story.requests import ArtifactMusic, ArtifactSfx


class MediaMixin(MusicClipsMixin):
    # -- coverage -------------------------------------------------------------------------------

    def start_coverage(self, artifact_id: str, focus: str | None) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            art = self._artifact(artifact_id)
            report_id = self.ids.next("cmcov")
            record: dict[str, Any] = {
                "id": report_id,
                "reportId": report_id,
                "artifactId": art.id,
                "status": "generating",
                "focusPrompt": focus,
                "report": None,
                "createdAt": iso(now),
                "completedAt": None,
            }
            art.coverage.append(record)

            def complete(at: float) -> None:
                record.update(status="complete", report=coverage_report(focus), completedAt=iso(at))

            self.scheduler.at(now + self.durations.coverage, complete)
            return {"reportId": report_id, "status": "generating"}

    def get_coverage(self, artifact_id: str, report_id: str | None) -> dict[str, Any] | None:
        with self.lock:
            self.sync()
            art = self._artifact(artifact_id, ready=False)
            if report_id:
                for record in art.coverage:
                    if record["reportId"] == report_id:
                        return view(record)
                raise SandboxError(
                    "validation_failed",
                    f"reportId: {report_id} is not a coverage report of artifact {artifact_id}",
                    details={"field": "reportId"},
                )
            return view(art.coverage[-1]) if art.coverage else None

    # -- music and sfx --------------------------------------------------------------------------

    def post_music(self, artifact_id: str, req: ArtifactMusic) -> dict[str, Any]:
        if is_defined_clips_request(req):
            return self.post_defined_clips(artifact_id, req)
        with self.lock:
            now = self.sync()
            art = self._artifact(artifact_id)
            music = art.music
            if req.sceneIndex is not None:
                if req.sceneIndex >= music["totalScenes"]:
                    raise SandboxError(
                        "validation_failed",
                        f"sceneIndex: {req.sceneIndex} is out of range (0..{music['totalScenes'] - 1})",
                        details={"field": "sceneIndex"},
                    )
                direction = art.scene_directions.setdefault(
                    req.sceneIndex,
                    {"sceneIndex": req.sceneIndex, "prompt": None, "weight": 0.5, "enabled": True},
                )
                for name in ("prompt", "weight", "enabled"):
                    if getattr(req, name) is not None:
                        direction[name] = getattr(req, name)
                video = art.body["manifest"]["video"]
                if video["status"] == "complete":
                    video["status"] = "stale"
                self.stamp(art.body, now)
                return {
                    "artifactId": art.id,
                    "status": "ready",
                    "sceneIndex": req.sceneIndex,
                    "adaptiveSceneDirection": dict(direction),
                }
            percent = req.musicCoveragePercent
            if percent is None:
                percent = music["coveragePercent"] if music["coveragePercent"] is not None else 0.35
            elif percent > 1:
                percent = percent / 100
            music.update(status="generating", coveragePercent=max(0.0, min(1.0, float(percent))))
            music["generation"] = music.get("generation", 0) + 1
            generation = music["generation"]

            def ready(_at: float) -> None:
                if music["generation"] == generation:
                    music["status"] = "ready"

            self.scheduler.at(now + self.durations.music, ready)
            return {
                "artifactId": art.id,
                "status": "generating",
                "coveragePercent": music["coveragePercent"],
                "totalScenes": music["totalScenes"],
            }

    def get_music(self, artifact_id: str) -> dict[str, Any]:
        with self.lock:
            self.sync()
            return self._music_view(self._artifact(artifact_id, ready=False))  # works mid-refine

    def get_sfx(self, artifact_id: str) -> dict[str, Any]:
        with self.lock:
            self.sync()
            art = self._artifact(artifact_id, ready=False)  # reads work mid-refine
            return {"artifactId": art.id, "cues": view({"c": art.cues})["c"]}

    def post_sfx(self, artifact_id: str, req: ArtifactSfx) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            art = self._artifact(artifact_id)
            fields = req.model_dump(
                mode="json", exclude_none=True, exclude={"op", "id", "regenerate"}
            )
            if req.op.value == "add":
                cue = {"id": self.ids.next("sfx"), "soundUrl": None, "isDraft": True, **fields}
                cue.setdefault("enabled", True)
                art.cues.append(cue)
                self._generate_sound(art, cue, now)
                self.stamp(art.body, now)
                return {"artifactId": art.id, "cue": dict(cue)}
            found = next((c for c in art.cues if c["id"] == req.id), None)
            if found is None:
                raise SandboxError(
                    "validation_failed",
                    f"id: {req.id} is not a sound-effect cue of artifact {artifact_id}",
                    details={"field": "id"},
                )
            if req.op.value == "remove":
                art.cues.remove(found)
                self.stamp(art.body, now)
                return {"artifactId": art.id, "removed": found["id"]}
            found.update(fields)
            if req.regenerate:
                found.update(soundUrl=None, isDraft=True)
                self._generate_sound(art, found, now)
            self.stamp(art.body, now)
            return {"artifactId": art.id, "cue": dict(found)}

    def _generate_sound(self, art: Any, cue: dict[str, Any], now: float) -> None:
        """A cue stays a draft (`isDraft`, no `soundUrl`) until its reusable sound is generated.

        Sandbox play hook: a prompt containing "[fail]" never gets a sound (`generationError`).
        """
        cue["generation"] = generation = int(cue.get("generation", 0)) + 1
        cue["generationError"] = None

        def ready(at: float) -> None:
            if cue.get("generation") != generation or cue not in art.cues:
                return
            if "[fail]" in str(cue.get("prompt") or ""):
                cue["generationError"] = "sound generation failed"
            else:
                cue.update(
                    isDraft=False,
                    soundUrl=f"https://cdn.sleeperhit.studio/sfx/{cue['id']}-v{generation}.mp3",
                )
            self.stamp(art.body, at)

        self.scheduler.at(now + self.durations.sfx, ready)
