"""Handlers of the project's additional commands (schemas.story.commands_pipeline): recovery, publishing
releases, the live read, agent guidance and the cast canon. Thin like the others: one client call,
maybe a watch, the reply."""

from __future__ import annotations

from typing import Any

from bridge.http.errors import RequestValidationError
from bridge.http.transport import ApiResponse
from bridge.providers.story.client import StoryClient as Api
from handlers.base import CommandContext, CommandReply, calls, handler_table, handles
from handlers.story import story
from schemas.story import commands_pipeline as c
from schemas.wire.commands import Command


async def _watch_plan(
    cmd: c.PlanResumeCommand, reply: ApiResponse[Any], ctx: CommandContext
) -> None:
    await ctx.watches.watch("plan", cmd.planId, project_id=getattr(reply.data, "projectId", None))


async def _watch_job(cmd: c.JobResumeCommand, reply: ApiResponse[Any], ctx: CommandContext) -> None:
    await ctx.watches.watch("job", cmd.jobId, project_id=getattr(reply.data, "projectId", None))


async def _watch_release(cmd: Command, reply: ApiResponse[Any], ctx: CommandContext) -> None:
    """A release is read through its series' listing (the API has no single-release read);
    followed until published."""
    release = reply.data
    series = getattr(release, "seriesId", None)
    if release is not None and series:
        await ctx.watches.watch("release", str(release.id), parents={"seriesId": str(series)})


async def release_list(cmd: c.ReleaseListCommand, ctx: CommandContext) -> CommandReply:
    # The outcome's result is the page as returned: `{releases, nextCursor}`.
    return await story(ctx).list_releases(
        cmd.seriesId, status=cmd.status, cursor=cmd.cursor, limit=cmd.limit
    )


async def artifact_start_live(cmd: c.ArtifactStartLiveCommand, ctx: CommandContext) -> CommandReply:
    token = cmd.token
    if token is None:
        art = await story(ctx).get_artifact(cmd.artifactId)
        token = getattr(art.data.manifest, "shareToken", None) if art.data.manifest else None
        if not token:
            raise RequestValidationError(
                f"artifact {cmd.artifactId} has no share token yet (is it READY?)", field="token"
            )
    return await story(ctx).start_live({"token": token})


async def agent_guidance_get(cmd: c.AgentGuidanceGetCommand, ctx: CommandContext) -> CommandReply:
    return await story(ctx).get_agent_guidance()


async def cast_canon_update(cmd: c.CastCanonUpdateCommand, ctx: CommandContext) -> CommandReply:
    body = cmd.body()
    payload: dict[str, Any] = body.to_body() if body is not None else {}
    return await story(ctx).update_cast_canon(
        cmd.projectId, payload, idempotency_key=ctx.idempotency_key
    )


HANDLERS = handler_table(
    calls(c.PlanResumeCommand, Api.resume_plan, after=_watch_plan),
    calls(c.JobResumeCommand, Api.resume_job, after=_watch_job),
    calls(c.ReleaseCreateCommand, Api.create_release, after=_watch_release),
    calls(c.ReleaseDescribeCommand, Api.describe_release),
    calls(c.ReleasePublishCommand, Api.publish_release, after=_watch_release),
    calls(c.ReleaseRefreshMediaCommand, Api.refresh_release_media),
    handles(c.ReleaseListCommand, release_list, Api.list_releases),
    handles(c.ArtifactStartLiveCommand, artifact_start_live, Api.start_live),
    handles(c.AgentGuidanceGetCommand, agent_guidance_get, Api.get_agent_guidance),
    handles(c.CastCanonUpdateCommand, cast_canon_update, Api.update_cast_canon),
)
