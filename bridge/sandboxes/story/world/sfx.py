"""Sound-effect cues on a READY table read: add, update, remove; each cue's sound generated.

A cue stays a draft (`isDraft`, no `soundUrl`) until its reusable sound is generated; `regenerate`
starts over, and a newer generation makes an older one's pending step a no-op. Sandbox play hook:
a prompt containing "[fail]" never gets a sound (`generationError`). Reads work mid-refine.
"""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.artifacts import ArtifactRec, ArtifactStore
from bridge.sandboxes.story.world.kernel import Kernel, stamp, view
from schemas.story.requests import ArtifactSfx


class SfxStore:
    def __init__(self, kernel: Kernel, artifacts: ArtifactStore) -> None:
        self.k = kernel
        self.artifacts = artifacts
        self.records: dict[str, list[dict[str, Any]]] = {}  # artifact id -> cues in order

    def _generate_sound(self, art: ArtifactRec, cue: dict[str, Any], now: float) -> None:
        cues = self.records[art.id]
        cue["generation"] = generation = int(cue.get("generation", 0)) + 1
        cue["generationError"] = None

        def ready(at: float) -> None:
            if cue.get("generation") != generation or cue not in cues:
                return
            if "[fail]" in str(cue.get("prompt") or ""):
                cue["generationError"] = "sound generation failed"
            else:
                cue.update(
                    isDraft=False,
                    soundUrl=f"https://cdn.sleeperhit.studio/sfx/{cue['id']}-v{generation}.mp3",
                )
            stamp(art.body, at)

        self.k.at(now + self.k.durations.sfx, ready)

    # -- operations -----------------------------------------------------------------------------

    def get(self, artifact_id: str) -> dict[str, Any]:
        with self.k.moment():
            art = self.artifacts.record(artifact_id, ready=False)
            return {"artifactId": art.id, "cues": view(self.records.get(art.id, []))}

    def post(self, artifact_id: str, req: ArtifactSfx) -> dict[str, Any]:
        with self.k.moment() as now:
            art = self.artifacts.record(artifact_id)
            cues = self.records.setdefault(art.id, [])
            fields = req.model_dump(
                mode="json", exclude_none=True, exclude={"op", "id", "regenerate"}
            )
            if req.op.value == "add":
                cue = {"id": self.k.ids.next("sfx"), "soundUrl": None, "isDraft": True, **fields}
                cue.setdefault("enabled", True)
                cues.append(cue)
                self._generate_sound(art, cue, now)
                stamp(art.body, now)
                return {"artifactId": art.id, "cue": dict(cue)}
            found = next((c for c in cues if c["id"] == req.id), None)
            if found is None:
                raise StorySandboxError(
                    "validation_failed",
                    f"id: {req.id} is not a sound-effect cue of artifact {artifact_id}",
                    details={"field": "id"},
                )
            if req.op.value == "remove":
                cues.remove(found)
                stamp(art.body, now)
                return {"artifactId": art.id, "removed": found["id"]}
            found.update(fields)
            if req.regenerate:
                found.update(soundUrl=None, isDraft=True)
                self._generate_sound(art, found, now)
            stamp(art.body, now)
            return {"artifactId": art.id, "cue": dict(found)}
