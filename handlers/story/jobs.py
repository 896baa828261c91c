"""job.create / job.cancel. A created job is watched, with the artifacts it embeds."""

from __future__ import annotations

from typing import Any

from bridge.http.transport import ApiResponse
from bridge.providers.story.client import StoryClient as Api
from handlers.base import CommandContext, calls, handler_table
from schemas.story import commands as c


async def _watch_job(cmd: c.JobCreateCommand, reply: ApiResponse[Any], ctx: CommandContext) -> None:
    job = reply.data
    await ctx.watches.watch("job", job.id, project_id=job.projectId or cmd.projectId)


HANDLERS = handler_table(
    calls(c.JobCreateCommand, Api.create_job, after=_watch_job),
    calls(c.JobCancelCommand, Api.cancel_job),
)
