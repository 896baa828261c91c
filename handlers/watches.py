"""watch.add / watch.remove: follow resources created elsewhere (the web app, the CLI)."""

from __future__ import annotations

from typing import Any

from bridge.http.errors import NotFound, RequestValidationError
from handlers.base import CommandContext, CommandReply, LocalReply, handler_table, handles
from handlers.syllaby import client_of
from handlers.syllaby.watching import scene, storyboard
from schemas.wire.commands import WatchAddCommand, WatchCommand, WatchRemoveCommand

RELEASE_PAGES = 5  # like the provider's reads of a release (bridge.providers.story.watch.provider.MAX_LIST_PAGES)


def _describe(cmd: WatchCommand) -> dict[str, Any]:
    if cmd.provider == "syllaby":
        out: dict[str, Any] = {"provider": "syllaby", "resource": str(cmd.resource), "id": cmd.id}
        if cmd.storyboard_id is not None:
            out["storyboard_id"] = cmd.storyboard_id
        return out
    out = {"resource": str(cmd.resource), "id": cmd.id, "projectId": cmd.projectId}
    if cmd.seriesId:
        out["seriesId"] = cmd.seriesId
    return out


async def _add_syllaby(cmd: WatchAddCommand, ctx: CommandContext) -> CommandReply:
    """One read first, so a made-up id is answered with Syllaby's 404 (`not_found`)."""
    api = client_of(ctx)
    if cmd.resource == "scene":
        if cmd.storyboard_id is None:  # the model requires it for a scene; mypy cannot see that
            raise RequestValidationError(
                "storyboard_id is required to watch a scene", field="storyboard_id"
            )
        await api.get_scene_status(cmd.storyboard_id, cmd.id)
        call = scene(cmd.storyboard_id, cmd.id)
    else:
        await api.get_storyboard(cmd.id)
        call = storyboard(cmd.id)
    await ctx.watches.watch(**call)
    return LocalReply(raw={"watching": True, **_describe(cmd)})


async def _read(cmd: WatchCommand, ctx: CommandContext) -> None:
    """One GET, so a made-up id is answered with the API's not-found error (raised from here)
    instead of a watch that would poll it until `watch.gone`."""
    api, resource = ctx.api, str(cmd.resource)
    if resource == "source":
        await api.get_source(cmd.projectId, cmd.id)
    elif resource == "plan":
        await api.get_plan(cmd.id)
    elif resource == "job":
        await api.get_job(cmd.id)
    elif resource == "release":
        await _read_release(cmd, ctx)
    else:
        await api.get_artifact(cmd.id)


async def _read_release(cmd: WatchCommand, ctx: CommandContext) -> None:
    """The API has no single-release read: look for it in its series' listing, as far as the
    watch would (the provider reads at most RELEASE_PAGES pages)."""
    cursor: str | None = None
    for _ in range(RELEASE_PAGES):
        page = await ctx.api.list_releases(cmd.seriesId, cursor=cursor, limit=100)
        raw = page.raw if isinstance(page.raw, dict) else {}
        if any(isinstance(r, dict) and r.get("id") == cmd.id for r in raw.get("releases") or []):
            return
        cursor = raw.get("nextCursor")
        if not cursor:
            break
    raise NotFound(
        f"release {cmd.id} is not in series {cmd.seriesId}'s releases",
        code="release_not_found",
        status=404,
    )


async def add(cmd: WatchAddCommand, ctx: CommandContext) -> CommandReply:
    if cmd.provider == "syllaby":
        return await _add_syllaby(cmd, ctx)
    await _read(cmd, ctx)
    parents = {"seriesId": cmd.seriesId} if cmd.seriesId else None
    await ctx.watches.watch(
        str(cmd.resource), str(cmd.id), project_id=cmd.projectId, parents=parents
    )
    return LocalReply(raw={"watching": True, **_describe(cmd)})


async def remove(cmd: WatchRemoveCommand, ctx: CommandContext) -> CommandReply:
    if cmd.provider == "syllaby":
        removed = await ctx.watches.unwatch(str(cmd.resource), str(cmd.id), provider="syllaby")
    else:
        removed = await ctx.watches.unwatch(str(cmd.resource), str(cmd.id))
    return LocalReply(raw={"watching": False, "removed": removed, **_describe(cmd)})


HANDLERS = handler_table(handles(WatchAddCommand, add), handles(WatchRemoveCommand, remove))
