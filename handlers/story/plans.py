"""plan.create / plan.approve / plan.reject. A created plan is watched until it settles."""

from __future__ import annotations

from typing import Any

from bridge.http.transport import ApiResponse
from bridge.providers.story.client import StoryClient as Api
from handlers.base import CommandContext, CommandReply, calls, handler_table, handles
from handlers.story import story
from schemas.story import commands as c


async def _watch_plan(
    cmd: c.PlanCreateCommand, reply: ApiResponse[Any], ctx: CommandContext
) -> None:
    await ctx.watches.watch("plan", reply.data.id, project_id=cmd.projectId)


async def approve(cmd: c.PlanApproveCommand, ctx: CommandContext) -> CommandReply:
    # No body unless the command carries one (`userConfirmed`, as the production client sends).
    body = cmd.body()
    sent = body if body is not None and body.to_body() else None
    return await story(ctx).approve_plan(cmd.planId, sent, idempotency_key=ctx.idempotency_key)


HANDLERS = handler_table(
    calls(c.PlanCreateCommand, Api.create_plan, after=_watch_plan),
    handles(c.PlanApproveCommand, approve, Api.approve_plan),
    calls(c.PlanRejectCommand, Api.reject_plan),
)
