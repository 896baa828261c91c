"""job.create / job.cancel. A created job is watched, with the artifacts it embeds."""

from __future__ import annotations

from typing import Any

from handlers.base import CommandContext, Reply


async def create(cmd: Any, ctx: CommandContext) -> Reply:
    reply = await ctx.api.create_job(cmd.body(), idempotency_key=ctx.idempotency_key)
    job = reply.data
    # The plan lets the poller list one plan's jobs instead of the whole project's history.
    plan = getattr(job, "storyPlanId", None) or getattr(cmd, "storyPlanId", None)
    parents = {"storyPlanId": str(plan)} if plan else None
    await ctx.watches.watch(
        "job", job.id, project_id=job.projectId or cmd.projectId, parents=parents
    )
    return reply


async def cancel(cmd: Any, ctx: CommandContext) -> Reply:
    return await ctx.api.cancel_job(cmd.jobId, idempotency_key=ctx.idempotency_key)


HANDLERS = {"job.create": create, "job.cancel": cancel}
