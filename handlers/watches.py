"""watch.add / watch.remove: follow resources created elsewhere (the web app, the CLI)."""

from __future__ import annotations

from typing import Any

from handlers.base import CommandContext, LocalReply, Reply


def _describe(cmd: Any) -> dict[str, Any]:
    return {"resource": str(cmd.resource), "id": cmd.id, "projectId": cmd.projectId}


async def add(cmd: Any, ctx: CommandContext) -> Reply:
    await ctx.watches.watch(str(cmd.resource), cmd.id, project_id=cmd.projectId)
    return LocalReply(raw={"watching": True, **_describe(cmd)})


async def remove(cmd: Any, ctx: CommandContext) -> Reply:
    removed = await ctx.watches.unwatch(str(cmd.resource), cmd.id)
    return LocalReply(raw={"watching": False, "removed": removed, **_describe(cmd)})


HANDLERS = {"watch.add": add, "watch.remove": remove}
