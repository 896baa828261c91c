"""watch.add / watch.remove: follow resources created elsewhere (the web app, the CLI)."""

from __future__ import annotations

import asyncio
from typing import Any

from bridge.http.errors import NotFound, RequestValidationError
from bridge.providers.story.onboarding import LISTED, listed_lookup, not_found
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


SINGLE_READS = 8  # single existence reads in flight for one bulk watch.add


async def _read_syllaby(cmd: WatchAddCommand, ctx: CommandContext, id: str) -> None:
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


async def _read(cmd: WatchCommand, ctx: CommandContext, id: str) -> None:
    """One GET, so a made-up id is answered with the API's not-found error (raised from here)
    instead of a watch that would poll it until `watch.gone`."""
    api, resource = ctx.api, str(cmd.resource)
    if resource == "source":
        await api.get_source(cmd.projectId, id)
    elif resource == "plan":
        await api.get_plan(id)
    elif resource == "job":
        await api.get_job(id)
    else:
        await api.get_artifact(id)


async def _releases(cmd: WatchCommand, ctx: CommandContext, ids: list[str]) -> set[str]:
    """The API has no single-release read: look for them in their series' listing, as far as the
    watch would (the provider reads at most RELEASE_PAGES pages)."""
    found: set[str] = set()
    cursor: str | None = None
    for _ in range(RELEASE_PAGES):
        page = await ctx.api.list_releases(cmd.seriesId, cursor=cursor, limit=100)
        raw = page.raw if isinstance(page.raw, dict) else {}
        found |= {str(r.get("id")) for r in raw.get("releases") or [] if isinstance(r, dict)}
        cursor = raw.get("nextCursor")
        if not cursor or found >= set(ids):
            break
    return found & set(ids)


async def _singly(cmd: WatchAddCommand, ctx: CommandContext, ids: list[str]) -> set[str]:
    """The ids that exist, one read each (a few at a time): what has no listing to ask."""
    gate = asyncio.Semaphore(SINGLE_READS)
    read = _read_syllaby if cmd.provider == "syllaby" else _read

    async def exists(id: str) -> bool:
        async with gate:
            try:
                await read(cmd, ctx, id)
            except NotFound:
                if len(ids) == 1:
                    raise  # the single form answers with the API's own error
                return False
        return True

    found = await asyncio.gather(*(exists(id) for id in ids))
    return {id for id, ok in zip(ids, found, strict=True) if ok}


async def _existing(cmd: WatchAddCommand, ctx: CommandContext, ids: list[str]) -> set[str]:
    """Which of `ids` exist: from the project's listing where there is one (a page per 100 ids,
    shared with concurrent watch.adds), from the series' listing for releases, else one read
    each."""
    resource = str(cmd.resource)
    if cmd.provider == "story" and resource == "release":
        return await _releases(cmd, ctx, ids)
    if cmd.provider == "story" and resource in LISTED and cmd.projectId:
        found = await listed_lookup(ctx.api).find(resource, cmd.projectId, ids)
        return set(found.present) | await _singly(cmd, ctx, sorted(found.unknown))
    return await _singly(cmd, ctx, ids)


async def _start(cmd: WatchAddCommand, ctx: CommandContext, id: str) -> None:
    if cmd.provider == "syllaby":
        if cmd.resource == "scene" and cmd.storyboard_id is not None:
            await ctx.watches.watch(**scene(cmd.storyboard_id, id))
        else:
            await ctx.watches.watch(**storyboard(id))
        return
    parents = {"seriesId": cmd.seriesId} if cmd.seriesId else None
    await ctx.watches.watch(str(cmd.resource), id, project_id=cmd.projectId, parents=parents)


async def add(cmd: WatchAddCommand, ctx: CommandContext) -> CommandReply:
    ids = cmd.targets()
    existing = await _existing(cmd, ctx, ids)
    missing = [id for id in ids if id not in existing]
    if not existing:
        where = f"project {cmd.projectId}" if cmd.projectId else "the API"
        if cmd.resource == "release":
            where = f"series {cmd.seriesId}'s releases"
        raise not_found(str(cmd.resource), missing, where)
    for id in ids:
        if id in existing:
            await _start(cmd, ctx, id)
    if cmd.ids is None:
        return LocalReply(raw={"watching": True, **_describe(cmd)})
    described = {k: v for k, v in _describe(cmd).items() if k != "id"}
    return LocalReply(
        raw={"watching": [id for id in ids if id in existing], "notFound": missing, **described}
    )


async def remove(cmd: WatchRemoveCommand, ctx: CommandContext) -> CommandReply:
    if cmd.provider == "syllaby":
        removed = await ctx.watches.unwatch(str(cmd.resource), str(cmd.id), provider="syllaby")
    else:
        removed = await ctx.watches.unwatch(str(cmd.resource), str(cmd.id))
    return LocalReply(raw={"watching": False, "removed": removed, **_describe(cmd)})


HANDLERS = handler_table(handles(WatchAddCommand, add), handles(WatchRemoveCommand, remove))
