"""watch.add / watch.remove: follow resources created elsewhere (the web app, the CLI)."""

from __future__ import annotations

from typing import Any

from handlers.base import CommandContext, LocalReply, Reply


def _describe(cmd: Any) -> dict[str, Any]:
    return {"resource": str(cmd.resource), "id": cmd.id, "projectId": cmd.projectId}


async def _read(cmd: Any, ctx: CommandContext) -> None:
    """One GET, so a made-up id is answered with the API's not-found error (raised from here)
    instead of a watch that would poll it until `watch.gone`."""
    api, resource = ctx.api, str(cmd.resource)
    if resource == "source":
        await api.get_source(cmd.projectId, cmd.id)
    elif resource == "plan":
        await api.get_plan(cmd.id)
    elif resource == "job":
        await api.get_job(cmd.id)
    else:
        await api.get_artifact(cmd.id)


async def add(cmd: Any, ctx: CommandContext) -> Reply:
    await _read(cmd, ctx)
    await ctx.watches.watch(str(cmd.resource), cmd.id, project_id=cmd.projectId)
    return LocalReply(raw={"watching": True, **_describe(cmd)})


async def remove(cmd: Any, ctx: CommandContext) -> Reply:
    removed = await ctx.watches.unwatch(str(cmd.resource), cmd.id)
    return LocalReply(raw={"watching": False, "removed": removed, **_describe(cmd)})


HANDLERS = {"watch.add": add, "watch.remove": remove}
