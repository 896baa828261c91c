"""Defined music clips (FIELD-NOTES): per-scene beds that render one by one, with their statuses.

The reference's music is one adaptive bed (`status` none -> generating -> ready). The production
client also sends a directive `{scope, mode, prompt}`, one scene's clip `{sceneIndex, clip}` and
`{regenerateScenes}`; each switches the artifact to `musicMode: "defined_clips"` and renders beds:
every bed goes pending -> rendering -> ready (or failed), one after the other, so the set streams
in. Sandbox play hook: a bed whose prompt contains "[fail]" fails (per-bed failures are real).
"""

from __future__ import annotations

from typing import Any

from bridge.providers.story.sandbox.errors import SandboxError
from bridge.providers.story.sandbox.world_artifact_core import ArtifactsMixin
from bridge.providers.story.sandbox.world_base import iso
from bridge.providers.story.sandbox.world_state import ArtifactRec, view
from schemas.story.requests import ArtifactMusic

DEFINED = "defined_clips"
FAIL_MARKER = "[fail]"
IN_FLIGHT = ("pending", "rendering")


def is_defined_clips_request(req: ArtifactMusic) -> bool:
    return any(
        value is not None for value in (req.scope, req.mode, req.musicMode, req.clip)
    ) or bool(req.regenerateScenes)


class MusicClipsMixin(ArtifactsMixin):
    def _bed(self, art: ArtifactRec, scene: int, now: float) -> dict[str, Any]:
        beds: dict[int, dict[str, Any]] = art.music.setdefault("beds", {})
        if scene not in beds:
            beds[scene] = {
                "sceneIndex": scene,
                "status": "pending",
                "clip": {},
                "url": None,
                "error": None,
                "generation": 0,
                "updatedAt": iso(now),
            }
        return beds[scene]

    def _check_scene(self, art: ArtifactRec, scene: int, field: str) -> None:
        total = art.music["totalScenes"]
        if scene >= total:
            raise SandboxError(
                "validation_failed",
                f"{field}: {scene} is out of range (0..{total - 1})",
                details={"field": field},
            )

    def _render_beds(self, art: ArtifactRec, scenes: list[int], now: float) -> None:
        """Queue the beds of `scenes`; each renders after the previous one (they stream in)."""
        music = art.music
        step = self.durations.music_bed
        directive = music.get("directive") or {}
        for order, scene in enumerate(scenes):
            bed = self._bed(art, scene, now)
            bed["generation"] += 1
            bed.update(status="pending", url=None, error=None, updatedAt=iso(now))
            generation = bed["generation"]
            prompt = " ".join(str(p) for p in (directive.get("prompt"), bed["clip"].get("prompt")))

            def rendering(at: float, bed: dict[str, Any] = bed, gen: int = generation) -> None:
                if bed["generation"] == gen:
                    bed.update(status="rendering", updatedAt=iso(at))

            def done(
                at: float, bed: dict[str, Any] = bed, gen: int = generation, prompt: str = prompt
            ) -> None:
                if bed["generation"] != gen:
                    return
                if FAIL_MARKER in prompt:
                    bed.update(status="failed", error="music bed render failed", updatedAt=iso(at))
                else:
                    url = f"https://cdn.sleeperhit.studio/music/{art.id}/scene-{bed['sceneIndex']}"
                    bed.update(status="ready", url=f"{url}-v{gen}.mp3", updatedAt=iso(at))
                self._settle_music(art, at)

            self.scheduler.at(now + step * (order + 0.5), rendering)
            self.scheduler.at(now + step * (order + 1), done)
        if scenes:
            music["status"] = "generating"

    def _settle_music(self, art: ArtifactRec, at: float) -> None:
        beds = art.music.get("beds", {}).values()
        if not any(b["status"] in IN_FLIGHT for b in beds):
            art.music["status"] = "ready"
            self.stamp(art.body, at)

    def post_defined_clips(self, artifact_id: str, req: ArtifactMusic) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            art = self._artifact(artifact_id)
            music = art.music
            total = music["totalScenes"]
            scenes: list[int] = []
            if req.scope is not None or req.mode is not None or req.musicMode is not None:
                if req.musicMode is not None and req.musicMode != DEFINED:
                    raise SandboxError(
                        "validation_failed",
                        f"musicMode: {req.musicMode} is not supported (use {DEFINED})",
                        details={"field": "musicMode"},
                    )
                music["directive"] = {"scope": req.scope, "mode": req.mode, "prompt": req.prompt}
                scenes = list(range(total))
            if req.clip is not None and req.sceneIndex is not None:
                self._check_scene(art, req.sceneIndex, "sceneIndex")
                bed = self._bed(art, req.sceneIndex, now)
                bed["clip"] = {**bed["clip"], **req.clip}
                if bed["clip"].get("disabled"):
                    bed["updatedAt"] = iso(now)
                elif req.sceneIndex not in scenes:
                    scenes.append(req.sceneIndex)
            for scene in req.regenerateScenes or []:
                self._check_scene(art, scene, "regenerateScenes")
                if scene not in scenes:
                    scenes.append(scene)
            music["musicMode"] = DEFINED
            self._render_beds(art, scenes, now)
            self.stamp(art.body, now)
            return {
                "artifactId": art.id,
                "status": music["status"],
                "music": self._music_view(art),
            }

    def _music_view(self, art: ArtifactRec) -> dict[str, Any]:
        music = art.music
        beds = music.get("beds", {})
        clips = []
        for scene in sorted(beds):
            bed = {k: v for k, v in beds[scene].items() if k != "generation"}
            bed["disabled"] = bool(bed["clip"].get("disabled"))
            clips.append(view(bed))
        return {
            "artifactId": art.id,
            "status": music["status"],
            "musicMode": music.get("musicMode", "adaptive"),
            "coveragePercent": music["coveragePercent"],
            "totalScenes": music["totalScenes"],
            "directive": view(music["directive"]) if music.get("directive") else None,
            "scenes": [art.scene_directions[k] for k in sorted(art.scene_directions)],
            "definedClips": clips,
        }
