"""The table read's script (read by page, scene, character or range) and voice modifications.

The script is derived from the cast (every line is spoken by a cast member), so a recast shows
in it at once. A voice modification of an entry range renders queued -> rendering -> ready
(sandbox play hook: `params.sandboxFail` makes it fail).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.artifacts import ArtifactStore
from bridge.sandboxes.story.world.cast import CastStore
from bridge.sandboxes.story.world.content import ENTRIES_PER_PAGE, script_entries
from bridge.sandboxes.story.world.kernel import Kernel, iso, stamp
from schemas.story.requests import ArtifactVoiceModification

SCOPES = ("page", "scene", "character", "range")
AUTOTUNE_DEFAULTS = {
    "key": "D",
    "scale": "minpent",
    "strength": 1.0,
    "smooth": 1,
    "reverb": "chapel",
}


def _bad(field: str, message: str) -> StorySandboxError:
    return StorySandboxError("validation_failed", f"{field}: {message}", details={"field": field})


def _int(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _bad(name, "must be an integer") from None


class ScriptStore:
    def __init__(self, kernel: Kernel, artifacts: ArtifactStore, cast: CastStore) -> None:
        self.k = kernel
        self.artifacts = artifacts
        self.cast = cast

    def get(self, artifact_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        with self.k.moment():
            art = self.artifacts.record(artifact_id)
            entries = script_entries(self.cast.of(art).characters)
            scope = query.get("scope") or "page"
            if scope not in SCOPES:
                raise _bad("scope", f"must be one of {', '.join(SCOPES)}")
            pages = (len(entries) + ENTRIES_PER_PAGE - 1) // ENTRIES_PER_PAGE
            scenes: dict[str, list[int]] = {}
            for e in entries:
                scenes.setdefault(e["sceneHeading"], []).append(e["entryIndex"])
            characters: dict[str, dict[str, int]] = {}
            for e in entries:
                stats = characters.setdefault(e["character"], {"lineCount": 0, "wordCount": 0})
                stats["lineCount"] += 1
                stats["wordCount"] += len(e["text"].split())
            selection: dict[str, Any]
            if scope == "page":
                page = _int(query, "page", 1)
                if not 1 <= page <= pages:
                    raise _bad("page", f"must be between 1 and {pages}")
                chosen = [e for e in entries if e["page"] == page]
                selection = {"pageNumber": page}
            elif scope == "scene":
                index = _int(query, "sceneIndex", _int(query, "scene", 0))
                if not 0 <= index < len(scenes):
                    raise _bad("sceneIndex", f"must be between 0 and {len(scenes) - 1}")
                heading = list(scenes)[index]
                chosen = [e for e in entries if e["sceneHeading"] == heading]
                selection = {"sceneIndex": index, "heading": heading}
            elif scope == "character":
                name = (query.get("character") or "").upper()
                if name not in characters:
                    raise _bad("character", f"must be one of {', '.join(characters)}")
                chosen = [e for e in entries if e["character"] == name]
                selection = {"character": name}
            else:
                start = _int(query, "start", _int(query, "startEntry", 0))
                end = _int(query, "end", _int(query, "endEntry", start + 9))
                if not 0 <= start <= end < len(entries):
                    raise _bad("range", f"start..end must lie within 0..{len(entries) - 1}")
                chosen = entries[start : end + 1]
                selection = {}
            selection.update(
                startEntry=chosen[0]["entryIndex"] if chosen else None,
                endEntry=chosen[-1]["entryIndex"] if chosen else None,
                entries=chosen,
            )
            return {
                "artifactId": art.id,
                "scope": scope,
                "revision": art.body["currentVersion"],
                "pageCount": pages,
                "totalEntries": len(entries),
                "scenes": [
                    {"sceneIndex": i, "heading": h, "startEntry": ids[0], "endEntry": ids[-1]}
                    for i, (h, ids) in enumerate(scenes.items())
                ],
                "characters": [{"character": c, **s} for c, s in characters.items()],
                "selection": selection,
            }

    def modify_voice(self, artifact_id: str, req: ArtifactVoiceModification) -> dict[str, Any]:
        with self.k.moment() as now:
            art = self.artifacts.record(artifact_id)
            total = len(script_entries(self.cast.of(art).characters))
            if req.endEntryIndex >= total:
                raise _bad("endEntryIndex", f"must be below totalEntries {total}")
            audio = art.body["manifest"]["audio"]
            modification: dict[str, Any] = {
                "id": self.k.ids.next("cmvm"),
                "startEntryIndex": req.startEntryIndex,
                "endEntryIndex": req.endEntryIndex,
                "effect": req.effect or "autotune",
                "params": {**AUTOTUNE_DEFAULTS, **(req.params or {})},
                "status": "queued",
                "createdAt": iso(now),
                "updatedAt": iso(now),
            }
            audio.setdefault("modifications", []).append(modification)
            stamp(art.body, now)
            step = self.k.durations.voice_modification / 2

            def advance(new: str) -> Callable[[float], None]:
                def apply(at: float) -> None:
                    modification.update(status=new, updatedAt=iso(at))
                    stamp(art.body, at)

                return apply

            # Sandbox play hook: `params.sandboxFail` makes the range fail (failures are real).
            last = "failed" if (req.params or {}).get("sandboxFail") else "ready"
            self.k.at(now + step, advance("rendering"))
            self.k.at(now + 2 * step, advance(last))
            return {"artifactId": art.id, "modificationId": modification["id"], "status": "queued"}
