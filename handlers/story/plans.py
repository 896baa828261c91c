"""plan.create / plan.approve / plan.reject. A created plan is watched until it settles."""

from __future__ import annotations

from typing import Any, cast

from handlers.base import CommandContext, CommandReply
from schemas.story.commands import PlanApproveCommand
from schemas.story.requests import PlanApprove


async def create(cmd: Any, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.create_plan(
        cmd.projectId, cmd.body(), idempotency_key=ctx.idempotency_key
    )
    await ctx.watches.watch("plan", reply.data.id, project_id=cmd.projectId)
    return reply


async def approve(cmd: PlanApproveCommand, ctx: CommandContext) -> CommandReply:
    # No body unless the command carries one (`userConfirmed`, as the production client sends).
    body = cast(PlanApprove | None, cmd.body())
    sent = body if body is not None and body.to_body() else None
    return await ctx.api.approve_plan(cmd.planId, sent, idempotency_key=ctx.idempotency_key)


async def reject(cmd: Any, ctx: CommandContext) -> CommandReply:
    return await ctx.api.reject_plan(cmd.planId, cmd.body(), idempotency_key=ctx.idempotency_key)


HANDLERS = {"plan.create": create, "plan.approve": approve, "plan.reject": reject}
