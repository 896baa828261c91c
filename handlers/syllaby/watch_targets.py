"""watch.add / watch.remove for Syllaby's storyboards and scenes."""

from __future__ import annotations

from typing import Any

from bridge.http.errors import NotFound, RequestValidationError
from handlers.base import CommandContext
from handlers.syllaby import client_of
from handlers.syllaby.starts import scene, storyboard
from handlers.watches import singly
from schemas.wire.commands import SYLLABY_WATCHED, WatchAddCommand, WatchCommand


async def _read(cmd: WatchAddCommand, ctx: CommandContext, id: str) -> None:
    """One read, so a made-up id is answered with Syllaby's 404 (`not_found`)."""
    api = client_of(ctx)
    if cmd.resource == "scene":
        if cmd.storyboard_id is None:  # the model requires it for a scene; mypy cannot see that
            raise RequestValidationError(
                "storyboard_id is required to watch a scene", field="storyboard_id"
            )
        await api.get_scene_status(cmd.storyboard_id, id)
    else:
        await api.get_storyboard(id)


class SyllabyWatchTargets:
    resources = SYLLABY_WATCHED
    integer_ids = True

    async def existing(self, cmd: WatchAddCommand, ctx: CommandContext, ids: list[str]) -> set[str]:
        return await singly(_read, cmd, ctx, ids)

    def missing(self, cmd: WatchAddCommand, ids: list[str]) -> Exception:
        shown = ", ".join(sorted(ids)[:10]) + (" ..." if len(ids) > 10 else "")
        return NotFound(
            f"{cmd.resource} {shown} not found in the API",
            code="not_found",
            status=404,
            details={"notFound": sorted(ids)},
        )

    async def start(self, cmd: WatchAddCommand, ctx: CommandContext, id: str) -> None:
        if cmd.resource == "scene" and cmd.storyboard_id is not None:
            await ctx.watches.watch(**scene(cmd.storyboard_id, id))
        else:
            await ctx.watches.watch(**storyboard(id))

    def describe(self, cmd: WatchCommand) -> dict[str, Any]:
        out: dict[str, Any] = {"provider": "syllaby", "resource": str(cmd.resource), "id": cmd.id}
        if cmd.storyboard_id is not None:
            out["storyboard_id"] = cmd.storyboard_id
        return out
