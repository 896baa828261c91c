"""job.create / job.cancel. A created job is watched, with the artifacts it embeds."""

from __future__ import annotations

from typing import Any

from handlers.base import CommandContext, CommandReply


async def create(cmd: Any, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.create_job(cmd.body(), idempotency_key=ctx.idempotency_key)
    job = reply.data
    await ctx.watches.watch("job", job.id, project_id=job.projectId or cmd.projectId)
    return reply


async def cancel(cmd: Any, ctx: CommandContext) -> CommandReply:
    return await ctx.api.cancel_job(cmd.jobId, idempotency_key=ctx.idempotency_key)


HANDLERS = {"job.create": create, "job.cancel": cancel}
