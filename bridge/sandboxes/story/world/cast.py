"""A table read's cast: its characters (from the request's mode, then voice and recast calls),
their voices in the manifest's voiceMap, the avatar style and each character's portrait.

A portrait renders queued -> rendering -> ready; a newer render of the same character makes the
older one's pending steps no-ops. Reads (`get`) work mid-refine; changes need a READY artifact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.artifacts import ArtifactRec, ArtifactStore
from bridge.sandboxes.story.world.content import cast_for
from bridge.sandboxes.story.world.kernel import Kernel, stamp, view
from schemas.story.requests import ArtifactVoice

DEFAULT_AVATAR_STYLE = "painterly portrait"


@dataclass
class CastRec:
    characters: list[tuple[str, str]]  # (character, gender) in cast order
    avatar_style: str = DEFAULT_AVATAR_STYLE
    avatars: dict[str, dict[str, Any]] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [c for c, _ in self.characters]


def avatar_url(art: ArtifactRec, character: str, version: int) -> str:
    return f"https://cdn.sleeperhit.studio/avatars/{art.id}/{character.lower()}-v{version}.png"


class CastStore:
    def __init__(self, kernel: Kernel, artifacts: ArtifactStore) -> None:
        self.k = kernel
        self.artifacts = artifacts
        self.records: dict[str, CastRec] = {}

    def of(self, art: ArtifactRec) -> CastRec:
        """The artifact's cast, made from its request the first time it is needed."""
        rec = self.records.get(art.id)
        if rec is None:
            rec = self.records[art.id] = CastRec(list(cast_for(art.request)))
        return rec

    def _queue_avatar(
        self, art: ArtifactRec, character: str, style: str | None, now: float
    ) -> dict[str, Any]:
        cast = self.of(art)
        if character not in cast.names():
            raise StorySandboxError(
                "validation_failed",
                f"character: {character} is not in the cast of artifact {art.id}",
                details={"field": "character"},
            )
        previous = cast.avatars.get(character, {})
        version = int(previous.get("version", 0)) + 1
        job_id = self.k.ids.next("cmtj")
        state = {
            "status": "queued",
            "style": style or cast.avatar_style,
            "url": previous.get("url", avatar_url(art, character, 0)),
            "version": version,
            "job": job_id,
        }
        cast.avatars[character] = state
        step = self.k.durations.avatar / 2

        def rendering(_at: float) -> None:
            if state["job"] == job_id and state["status"] == "queued":
                state["status"] = "rendering"

        def ready(_at: float) -> None:
            if state["job"] == job_id:
                state.update(status="ready", url=avatar_url(art, character, version))

        self.k.at(now + step, rendering)
        self.k.at(now + 2 * step, ready)
        return {"character": character, "status": "queued", "chatToolJobId": job_id}

    # -- operations -----------------------------------------------------------------------------

    def set_voice(self, artifact_id: str, req: ArtifactVoice) -> dict[str, Any]:
        with self.k.moment() as now:
            art = self.artifacts.record(artifact_id)
            cast = self.of(art)
            voice_map = art.body["manifest"]["audio"].setdefault("voiceMap", {})
            entry = {"voiceId": req.voiceId, "voiceName": req.voiceName}
            entry.update(
                {k: v for k, v in (("gender", req.gender), ("provider", req.provider)) if v}
            )
            voice_map[req.character] = entry
            if req.character not in cast.names():
                cast.characters.append((req.character, req.gender or "neutral"))
            stamp(art.body, now)
            return {"artifactId": art.id, "character": req.character, "voiceMap": view(voice_map)}

    def get(self, artifact_id: str) -> dict[str, Any]:
        with self.k.moment():
            art = self.artifacts.record(artifact_id, ready=False)  # reads work mid-refine
            cast = self.of(art)
            manifest = art.body["manifest"] or {"audio": {}}
            voice_map = manifest["audio"].get("voiceMap") or {}
            members = []
            for character, gender in cast.characters:
                voice = voice_map.get(character, {})
                avatar = cast.avatars.get(character, {})
                members.append(
                    {
                        "character": character,
                        "voiceId": voice.get("voiceId"),
                        "voiceName": voice.get("voiceName"),
                        "gender": voice.get("gender", gender),
                        "provider": voice.get("provider", "cartesia"),
                        "avatarUrl": avatar.get("url", avatar_url(art, character, 0)),
                        "avatarStyle": avatar.get("style", cast.avatar_style),
                        "avatarStatus": avatar.get("status", "ready"),
                    }
                )
            return {"artifactId": art.id, "avatarStyle": cast.avatar_style, "cast": members}

    def queue_avatar(self, artifact_id: str, character: str, style: str | None) -> dict[str, Any]:
        with self.k.moment() as now:
            art = self.artifacts.record(artifact_id)
            return {"artifactId": art.id, **self._queue_avatar(art, character, style, now)}

    def recast(
        self, artifact_id: str, avatar_style: str | None, entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Restyle every portrait (avatarStyle, no entries) or reassign / re-render named ones."""
        with self.k.moment() as now:
            art = self.artifacts.record(artifact_id)
            cast = self.of(art)
            voice_map = art.body["manifest"]["audio"].setdefault("voiceMap", {})
            if avatar_style:
                cast.avatar_style = avatar_style
            avatars = []
            for entry in entries:
                character = entry["character"]
                if character not in cast.names():
                    cast.characters.append((character, entry.get("gender") or "neutral"))
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
                avatars = [self._queue_avatar(art, c, None, now) for c in cast.names()]
            stamp(art.body, now)
            return {"artifactId": art.id, "voiceMap": view(voice_map), "avatars": avatars}
