"""source.create / source.delete. url/pdf sources are watched through extraction and digest; inline
ones are READY at once, so only their digest (which a plan should ideally wait for) is watched."""

from __future__ import annotations

from typing import Any

from handlers.base import CommandContext, CommandReply

ASYNC_TYPES = frozenset({"url", "pdf"})


async def create(cmd: Any, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.create_source(
        cmd.projectId, cmd.body(), idempotency_key=ctx.idempotency_key
    )
    if str(cmd.type) in ASYNC_TYPES:
        await ctx.watches.watch("source", reply.data.id, project_id=cmd.projectId)
    else:
        await ctx.watches.watch(
            "source", reply.data.id, project_id=cmd.projectId, facets=("digest",)
        )
    return reply


async def delete(cmd: Any, ctx: CommandContext) -> CommandReply:
    return await ctx.api.delete_source(
        cmd.projectId, cmd.sourceId, idempotency_key=ctx.idempotency_key
    )


HANDLERS = {"source.create": create, "source.delete": delete}
