"""source.create / source.delete. url/pdf sources are watched through extraction and digest; inline
ones are READY at once, so only their digest (which a plan should ideally wait for) is watched."""

from __future__ import annotations

from typing import Any

from bridge.http.transport import ApiResponse
from bridge.providers.story.client import StoryClient as Api
from handlers.base import CommandContext, calls, handler_table
from schemas.story import commands as c

ASYNC_TYPES = frozenset({"url", "pdf"})


async def _watch_source(
    cmd: c.SourceCreateCommand, reply: ApiResponse[Any], ctx: CommandContext
) -> None:
    facets = None if str(cmd.type) in ASYNC_TYPES else ("digest",)
    await ctx.watches.watch("source", reply.data.id, project_id=cmd.projectId, facets=facets)


HANDLERS = handler_table(
    calls(c.SourceCreateCommand, Api.create_source, after=_watch_source),
    calls(c.SourceDeleteCommand, Api.delete_source),
)
