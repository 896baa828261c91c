"""The project's added facets (docs/CONTRACT.md "Project additions"): parts of an artifact that
change on their own after a command, and publishing releases. Pure functions over the JSON the API
returned, like `story_facets`; the provider adds their observations after the contract's facets.

| facet | read from | one chain per (`part`) | settled |
|---|---|---|---|
| `voice_modification` | `manifest.audio.modifications[]` (newest record per range) | range `<start>-<end>` | ready, failed |
| `sfx` | `GET /artifacts/{id}/sfx` cues: draft until `soundUrl` is set | cue id | ready, failed |
| `avatar` | `GET /artifacts/{id}/cast`, each member's `avatarStatus` | character | ready, failed |
| `cast` | `manifest.audio.voiceMap` (no side read): a fingerprint of character -> voiceId | (the map) | at once |
| `music_clips` | `GET /artifacts/{id}/music` `definedClips` (musicMode defined_clips) | (the set) | settled |
| `music_clip` | the same beds; only a failure is an event | scene index | always |
| release `status` | the series' release listing | | published, failed |
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from bridge.providers.story.watch.facets import _as_of, _version, dig, lower, subject_path
from bridge.watch.model import Observation, Reading, WatchSpec

EXTRA_ARTIFACT_FACETS = (
    "voice_modification", "sfx", "avatar", "music_clips", "music_clip", "cast"
)  # fmt: skip
# Facets whose state comes from a side read (the provider makes it only when one is followed).
SIDE_READS = {"sfx": "sfx", "avatar": "cast", "music_clips": "music", "music_clip": "music"}
CLIP_IN_FLIGHT = frozenset({"pending", "rendering", "queued"})
TERMINAL: dict[tuple[str, str | None], frozenset[str]] = {
    ("artifact", "voice_modification"): frozenset({"ready", "failed"}),
    ("artifact", "sfx"): frozenset({"ready", "failed"}),
    ("artifact", "avatar"): frozenset({"ready", "failed"}),
    ("artifact", "music_clips"): frozenset({"settled", "none"}),
    # A recast is synchronous (the API answers with the new voiceMap and GET shows it at once), so
    # the first read after the command is both the change and the settled state: see `cast`.
    ("artifact", "cast"): frozenset({"changed", "none"}),
    ("release", None): frozenset({"published", "failed"}),
}


def _fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _part(
    art: Any,
    project: str | None,
    facet: str,
    status: str,
    part: str | None,
    snapshot: Any,
    *,
    token: str,
    revision: int,
    silent: bool = False,
    as_of: str | None = None,
) -> Observation:
    id = str(dig(art, "id") or "")
    return Observation(
        resource="artifact",
        id=id,
        facet=facet,
        status=status,
        revision=revision,
        project_id=project,
        subject_path=subject_path("artifact", id, project),
        snapshot=snapshot,
        silent=silent,
        token=token,
        part=part,
        as_of=as_of,
    )


def voice_modifications(art: Any, project: str | None) -> list[Observation]:
    """The newest record of each range (by `updatedAt`/`createdAt`, then list order)."""
    records = dig(art, "manifest", "audio", "modifications") or []
    ranges: dict[str, list[tuple[int, Any]]] = {}
    for index, record in enumerate(records):
        if isinstance(record, dict):
            key = f"{record.get('startEntryIndex')}-{record.get('endEntryIndex')}"
            ranges.setdefault(key, []).append((index, record))
    out = []
    for key, found in ranges.items():
        _, newest = max(found, key=lambda pair: (str(pair[1].get("createdAt") or ""), pair[0]))
        status = lower(newest.get("status"), "queued")
        token = f"{status}:{newest.get('id') or len(found)}"
        out.append(
            _part(art, project, "voice_modification", status, key, newest,
                  token=token, revision=len(found))
        )  # fmt: skip
    return out


def sfx_cues(art: Any, project: str | None, sfx: Any) -> list[Observation]:
    out = []
    for cue in dig(sfx, "cues") or []:
        if not isinstance(cue, dict) or not cue.get("id"):
            continue
        if cue.get("generationError") or cue.get("error"):
            status = "failed"
        elif cue.get("soundUrl") and not cue.get("isDraft"):
            status = "ready"
        else:
            status = "draft"
        token = f"{status}:{cue.get('soundUrl')}"
        out.append(
            _part(art, project, "sfx", status, str(cue["id"]), cue, token=token,
                  revision=_version(art))
        )  # fmt: skip
    return out


def avatars(art: Any, project: str | None, cast: Any) -> list[Observation]:
    out = []
    for member in dig(cast, "cast") or []:
        if not isinstance(member, dict) or not member.get("character"):
            continue
        status = lower(member.get("avatarStatus"), "ready")
        token = f"{status}:{member.get('avatarUrl')}"
        out.append(
            _part(art, project, "avatar", status, str(member["character"]), member,
                  token=token, revision=_version(art))
        )  # fmt: skip
    return out


def voice_map_fingerprint(art: Any) -> str | None:
    """A stable fingerprint of the cast's voices: character -> voiceId, order-free (a voiceName or
    gender edit alone is not a recast). None when the artifact shows no voice map at all."""
    voice_map = dig(art, "manifest", "audio", "voiceMap")
    if not isinstance(voice_map, dict):
        return None
    voices = {
        str(character): (entry.get("voiceId") if isinstance(entry, dict) else None)
        for character, entry in voice_map.items()
    }
    return _fingerprint(voices)


def cast(art: Any, project: str | None) -> Observation:
    """The artifact's voice map as one facet: status `changed`, token its fingerprint.

    Only a recast command (`artifact.voice`, `artifact.cast` with voices) follows this facet, and
    its watch is armed after the API answered, so the transition rules give:
    - the record has never seen the map (first sight after the command): one `changed` (like
      `revised`, which publishes on first sight of a version > 1); the bridge cannot know the map
      before the command without a read of its own before every recast;
    - the record saw this facet before (an earlier recast, kept 7 days): `changed` only when the
      fingerprint differs; a recast to the voices it already had records nothing.
    The id is the usual (status `changed`, revision = currentVersion, occurrence): a recast does not
    create a revision, so each change of one version's cast is the next occurrence of
    `changed@<version>` in the resource's one record, the same id on every replica and retry.

    Terminal at once (TERMINAL): the engine's terminal test is a pure function of what one read
    shows (it keeps no read counts and cannot tell "after the command"), and the first read after
    the command already shows the new map, so a bounded number of extra reads would only repeat
    it. Without a voice map (no manifest) the state is `none`: silent, nothing to follow.
    """
    fingerprint = voice_map_fingerprint(art)
    status = "none" if fingerprint is None else "changed"
    return _part(
        art, project, "cast", status, None, art, token=fingerprint or "none",
        revision=_version(art), silent=fingerprint is None, as_of=_as_of(art),
    )  # fmt: skip


def music_clips(
    art: Any, project: str | None, music: Any, facets: Sequence[str]
) -> list[Observation]:
    """The set of defined clips, and each bed that failed.

    Settled means no bed is pending or rendering. The production client also waits for the set to
    stay unchanged over several polls; the watch's `settled` token is a fingerprint of the beds, so a
    set that changes again after settling is published as settled again once it stops.
    """
    clips = [c for c in dig(music, "definedClips") or [] if isinstance(c, dict)]
    defined = lower(dig(music, "musicMode")) == "defined_clips" and bool(clips)
    out: list[Observation] = []
    version = _version(art)
    if "music_clips" in facets:
        if not defined:
            status = "none"
        elif any(lower(c.get("status"), "pending") in CLIP_IN_FLIGHT for c in clips):
            status = "rendering"
        else:
            status = "settled"
        beds = [(c.get("sceneIndex"), c.get("status"), c.get("url")) for c in clips]
        token = f"settled:{_fingerprint(beds)}" if status == "settled" else status
        out.append(
            _part(art, project, "music_clips", status, None, music, token=token, revision=version,
                  silent=status == "none")
        )  # fmt: skip
    if "music_clip" in facets and defined:
        for clip in clips:
            status = lower(clip.get("status"), "pending")
            token = f"{status}:{clip.get('updatedAt')}"
            out.append(
                _part(art, project, "music_clip", status, str(clip.get("sceneIndex")), clip,
                      token=token, revision=version, silent=status != "failed")
            )  # fmt: skip
    return out


def observe(spec: WatchSpec, reading: Reading) -> list[Observation]:
    """The added facets the watch follows (nothing for a watch that follows none of them)."""
    obj = reading.data
    if spec.resource == "release":
        id = str(dig(obj, "id") or spec.id)
        return [
            Observation(
                resource="release",
                id=id,
                facet=None,
                status=lower(dig(obj, "status"), "draft"),
                project_id=None,
                subject_path=f"publishing-releases/{id}",
                snapshot=obj,
            )
        ]
    facets = spec.facets or ()
    if spec.resource != "artifact" or not any(f in EXTRA_ARTIFACT_FACETS for f in facets):
        return []
    project = dig(obj, "projectId") or spec.parents.get("projectId")
    out: list[Observation] = []
    if "voice_modification" in facets:
        out.extend(voice_modifications(obj, project))
    if "sfx" in facets and "sfx" in reading.extra:
        out.extend(sfx_cues(obj, project, reading.extra["sfx"]))
    if "avatar" in facets and "cast" in reading.extra:
        out.extend(avatars(obj, project, reading.extra["cast"]))
    if "cast" in facets:
        out.append(cast(obj, project))
    if "music" in reading.extra:
        out.extend(music_clips(obj, project, reading.extra["music"], facets))
    return out


def is_terminal(observations: Sequence[Observation]) -> bool:
    """Every added facet observed is settled (facets of the contract are judged by story_facets)."""
    for obs in observations:
        terminal = TERMINAL.get((obs.resource, obs.facet))
        if terminal is not None and obs.status not in terminal:
            return False
    return True
