"""The watches Syllaby commands start (CONTRACT.md, the Syllaby events table); each command's row
in handlers/syllaby names the function here that it starts with.

- a storyboard's status: after create, generate and context (and watch.add);
- its video: after render only (before any render the API already shows `video.status:
  rendering`, so following it earlier would announce a render that never happened);
- a scene: after generate_clips (each scene named) and scene.create (and watch.add).
"""

from __future__ import annotations

from typing import Any

from schemas.syllaby import commands as c

PROVIDER = "syllaby"
WatchCall = dict[str, Any]


def storyboard(id: Any, *facets: str) -> WatchCall:
    call: WatchCall = {"resource": "storyboard", "id": str(id), "provider": PROVIDER}
    if facets:
        call["facets"] = tuple(facets)
    return call


def scene(storyboard_id: Any, id: Any) -> WatchCall:
    return {
        "resource": "scene",
        "id": str(id),
        "provider": PROVIDER,
        "parents": {"storyboardId": str(storyboard_id)},
    }


def _created_id(raw: Any) -> Any:
    data = raw.get("data") if isinstance(raw, dict) else None
    return data.get("id") if isinstance(data, dict) else None


def created_storyboard(cmd: c.StoryboardCreateCommand, raw: Any) -> list[WatchCall]:
    created = _created_id(raw)
    return [storyboard(created)] if created is not None else []


def same_storyboard(
    cmd: c.StoryboardGenerateCommand | c.StoryboardContextCommand, raw: Any
) -> list[WatchCall]:
    return [storyboard(cmd.storyboard_id)]


def video(cmd: c.StoryboardRenderCommand, raw: Any) -> list[WatchCall]:
    return [storyboard(cmd.storyboard_id, "video")]


def clips(cmd: c.StoryboardGenerateClipsCommand, raw: Any) -> list[WatchCall]:
    return [scene(cmd.storyboard_id, item.id) for item in cmd.scenes]


def created_scene(cmd: c.SceneCreateCommand, raw: Any) -> list[WatchCall]:
    created = _created_id(raw)
    return [scene(cmd.storyboard_id, created)] if created is not None else []
