"""job.create / job.cancel. A created job is watched, with the artifacts it embeds."""

from __future__ import annotations

from typing import Any

from bridge.http.transport import ApiResponse
from bridge.providers.story.client import StoryClient as Api
from handlers.base import CommandContext, calls, handler_table
from schemas.story import commands as c


async def _watch_job(cmd: c.JobCreateCommand, reply: ApiResponse[Any], ctx: CommandContext) -> None:
    job = reply.data
    # The plan lets the poller list one plan's jobs instead of the whole project's history.
    plan = job.storyPlanId or cmd.storyPlanId
    parents = {"storyPlanId": str(plan)} if plan else None
    await ctx.watches.watch(
        "job", job.id, project_id=job.projectId or cmd.projectId, parents=parents
    )


HANDLERS = handler_table(
    calls(c.JobCreateCommand, Api.create_job, after=_watch_job),
    calls(c.JobCancelCommand, Api.cancel_job),
)
