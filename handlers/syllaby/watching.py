"""What each Syllaby command starts watching (CONTRACT.md, the Syllaby events table).

- a storyboard's status: after create, generate and context (and watch.add);
- its video: after render only (before any render the API already shows `video.status:
  rendering`, so following it earlier would announce a render that never happened);
- a scene: after generate_clips (each scene named) and scene.create (and watch.add).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.base import CommandContext
from schemas.syllaby import commands as c
from schemas.syllaby.commands import SyllabyCommand

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


def _create(cmd: c.StoryboardCreateCommand, raw: Any) -> list[WatchCall]:
    created = _created_id(raw)
    return [storyboard(created)] if created is not None else []


def _same_storyboard(
    cmd: c.StoryboardGenerateCommand | c.StoryboardContextCommand, raw: Any
) -> list[WatchCall]:
    return [storyboard(cmd.storyboard_id)]


def _render(cmd: c.StoryboardRenderCommand, raw: Any) -> list[WatchCall]:
    return [storyboard(cmd.storyboard_id, "video")]


def _clips(cmd: c.StoryboardGenerateClipsCommand, raw: Any) -> list[WatchCall]:
    return [scene(cmd.storyboard_id, item.id) for item in cmd.scenes]


def _scene_create(cmd: c.SceneCreateCommand, raw: Any) -> list[WatchCall]:
    created = _created_id(raw)
    return [scene(cmd.storyboard_id, created)] if created is not None else []


# By command name; each function takes its own command model (the executor validated it as that).
WATCHES: dict[str, Callable[[Any, Any], list[WatchCall]]] = {
    "syllaby.storyboard.create": _create,
    "syllaby.storyboard.generate": _same_storyboard,
    "syllaby.storyboard.context": _same_storyboard,
    "syllaby.storyboard.render": _render,
    "syllaby.storyboard.generate_clips": _clips,
    "syllaby.scene.create": _scene_create,
}


async def arm(cmd: SyllabyCommand, raw: Any, ctx: CommandContext) -> None:
    """Start the watches `cmd` calls for (raises WatchStartFailed when one is not recorded)."""
    for call in WATCHES.get(cmd.command, lambda c, r: [])(cmd, raw):
        await ctx.watches.watch(**call)
