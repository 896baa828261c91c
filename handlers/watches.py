"""watch.add / watch.remove: follow resources created elsewhere (the web app, the CLI).

Provider-neutral: the provider the command names (`provider`, default story) says which of its
resources exist and how a watch of one starts (`bridge.plugins.WatchTargets`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bridge import plugins
from bridge.http.errors import NotFound, RequestValidationError
from handlers.base import CommandContext, CommandReply, LocalReply, handler_table, handles
from schemas.wire.commands import WatchAddCommand, WatchCommand, WatchRemoveCommand

SINGLE_READS = 8  # single existence reads in flight for one bulk watch.add

Read = Callable[[WatchAddCommand, CommandContext, str], Awaitable[object]]


async def singly(read: Read, cmd: WatchAddCommand, ctx: CommandContext, ids: list[str]) -> set[str]:
    """The ids that exist, one `read` each (a few at a time): what has no listing to ask. A single
    id that does not exist raises the API's own not-found error."""
    gate = asyncio.Semaphore(SINGLE_READS)

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


def _targets(cmd: WatchCommand) -> plugins.WatchTargets:
    provider = plugins.provider(cmd.provider)
    targets = provider.watch_targets if provider is not None else None
    if targets is None:  # the model checked the name; a provider may still watch nothing
        raise RequestValidationError(
            f"provider {cmd.provider!r} has nothing to watch", field="provider"
        )
    return targets


async def add(cmd: WatchAddCommand, ctx: CommandContext) -> CommandReply:
    targets = _targets(cmd)
    ids = cmd.targets()
    existing = await targets.existing(cmd, ctx, ids)
    missing = [id for id in ids if id not in existing]
    if not existing:
        raise targets.missing(cmd, missing)
    for id in ids:
        if id in existing:
            await targets.start(cmd, ctx, id)
    if cmd.ids is None:
        return LocalReply(raw={"watching": True, **targets.describe(cmd)})
    described = {k: v for k, v in targets.describe(cmd).items() if k != "id"}
    return LocalReply(
        raw={"watching": [id for id in ids if id in existing], "notFound": missing, **described}
    )


async def remove(cmd: WatchRemoveCommand, ctx: CommandContext) -> CommandReply:
    targets = _targets(cmd)
    removed = await ctx.watches.unwatch(str(cmd.resource), str(cmd.id), provider=cmd.provider)
    return LocalReply(raw={"watching": False, "removed": removed, **targets.describe(cmd)})


HANDLERS = handler_table(handles(WatchAddCommand, add), handles(WatchRemoveCommand, remove))
