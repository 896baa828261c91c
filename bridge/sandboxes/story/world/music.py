"""A table read's music: the adaptive bed with per-scene directions, and defined clips.

Adaptive (the reference): one bed, `status` none -> generating -> ready, a coverage percent, and
per-scene directions (a change makes a complete video stale). Defined clips (FIELD-NOTES): the
production client also sends a directive `{scope, mode, prompt}`, one scene's clip
`{sceneIndex, clip}` and `{regenerateScenes}`; each switches the artifact to
`musicMode: "defined_clips"` and renders beds: every bed goes pending -> rendering -> ready (or
failed), one after the other, so the set streams in. Sandbox play hook: a bed whose prompt
contains "[fail]" fails (per-bed failures are real). Reads work mid-refine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.artifacts import ArtifactRec, ArtifactStore
from bridge.sandboxes.story.world.content import SCENES
from bridge.sandboxes.story.world.kernel import Kernel, iso, stamp, view
from schemas.story.requests import ArtifactMusic

DEFINED = "defined_clips"
FAIL_MARKER = "[fail]"
IN_FLIGHT = ("pending", "rendering")


def is_defined_clips_request(req: ArtifactMusic) -> bool:
    return any(
        value is not None for value in (req.scope, req.mode, req.musicMode, req.clip)
    ) or bool(req.regenerateScenes)


def _fresh() -> dict[str, Any]:
    return {"status": "none", "coveragePercent": None, "totalScenes": SCENES}


@dataclass
class MusicRec:
    state: dict[str, Any] = field(default_factory=_fresh)  # status, coverage, beds, directive...
    directions: dict[int, dict[str, Any]] = field(default_factory=dict)  # by scene index


class MusicStore:
    def __init__(self, kernel: Kernel, artifacts: ArtifactStore) -> None:
        self.k = kernel
        self.artifacts = artifacts
        self.records: dict[str, MusicRec] = {}

    def of(self, art: ArtifactRec) -> MusicRec:
        rec = self.records.get(art.id)
        if rec is None:
            rec = self.records[art.id] = MusicRec()
        return rec

    # -- operations -----------------------------------------------------------------------------

    def post(self, artifact_id: str, req: ArtifactMusic) -> dict[str, Any]:
        if is_defined_clips_request(req):
            return self._post_defined_clips(artifact_id, req)
        with self.k.moment() as now:
            art = self.artifacts.record(artifact_id)
            rec = self.of(art)
            music = rec.state
            if req.sceneIndex is not None:
                if req.sceneIndex >= music["totalScenes"]:
                    raise StorySandboxError(
                        "validation_failed",
                        f"sceneIndex: {req.sceneIndex} is out of range (0..{music['totalScenes'] - 1})",
                        details={"field": "sceneIndex"},
                    )
                direction = rec.directions.setdefault(
                    req.sceneIndex,
                    {"sceneIndex": req.sceneIndex, "prompt": None, "weight": 0.5, "enabled": True},
                )
                for name in ("prompt", "weight", "enabled"):
                    if getattr(req, name) is not None:
                        direction[name] = getattr(req, name)
                video = art.body["manifest"]["video"]
                if video["status"] == "complete":
                    video["status"] = "stale"
                stamp(art.body, now)
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

            self.k.at(now + self.k.durations.music, ready)
            return {
                "artifactId": art.id,
                "status": "generating",
                "coveragePercent": music["coveragePercent"],
                "totalScenes": music["totalScenes"],
            }

    def get(self, artifact_id: str) -> dict[str, Any]:
        with self.k.moment():
            return self._view(self.artifacts.record(artifact_id, ready=False))

    # -- defined clips --------------------------------------------------------------------------

    def _bed(self, art: ArtifactRec, scene: int, now: float) -> dict[str, Any]:
        beds: dict[int, dict[str, Any]] = self.of(art).state.setdefault("beds", {})
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
        total = self.of(art).state["totalScenes"]
        if scene >= total:
            raise StorySandboxError(
                "validation_failed",
                f"{field}: {scene} is out of range (0..{total - 1})",
                details={"field": field},
            )

    def _render_beds(self, art: ArtifactRec, scenes: list[int], now: float) -> None:
        """Queue the beds of `scenes`; each renders after the previous one (they stream in)."""
        music = self.of(art).state
        step = self.k.durations.music_bed
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
                self._settle(art, at)

            self.k.at(now + step * (order + 0.5), rendering)
            self.k.at(now + step * (order + 1), done)
        if scenes:
            music["status"] = "generating"

    def _settle(self, art: ArtifactRec, at: float) -> None:
        music = self.of(art).state
        if not any(b["status"] in IN_FLIGHT for b in music.get("beds", {}).values()):
            music["status"] = "ready"
            stamp(art.body, at)

    def _post_defined_clips(self, artifact_id: str, req: ArtifactMusic) -> dict[str, Any]:
        with self.k.moment() as now:
            art = self.artifacts.record(artifact_id)
            music = self.of(art).state
            total = music["totalScenes"]
            scenes: list[int] = []
            if req.scope is not None or req.mode is not None or req.musicMode is not None:
                if req.musicMode is not None and req.musicMode != DEFINED:
                    raise StorySandboxError(
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
            stamp(art.body, now)
            return {"artifactId": art.id, "status": music["status"], "music": self._view(art)}

    def _view(self, art: ArtifactRec) -> dict[str, Any]:
        rec = self.of(art)
        music = rec.state
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
            "scenes": [rec.directions[k] for k in sorted(rec.directions)],
            "definedClips": clips,
        }
