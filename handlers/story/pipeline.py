"""Handlers of the project's additional commands (schemas.story.commands_pipeline): recovery, publishing
releases, the live read, agent guidance and the cast canon. Thin like the others: one client call,
maybe a watch, the reply."""

from __future__ import annotations

from typing import Any, cast

from bridge.http.errors import RequestValidationError
from handlers.base import CommandContext, CommandHandler, CommandReply
from schemas.story import commands_pipeline as c
from schemas.story import requests_publishing as p


async def plan_resume(cmd: c.PlanResumeCommand, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.resume_plan(cmd.planId, idempotency_key=ctx.idempotency_key)
    project = getattr(reply.data, "projectId", None)
    await ctx.watches.watch("plan", cmd.planId, project_id=project)
    return reply


async def job_resume(cmd: c.JobResumeCommand, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.resume_job(cmd.jobId, idempotency_key=ctx.idempotency_key)
    await ctx.watches.watch("job", cmd.jobId, project_id=getattr(reply.data, "projectId", None))
    return reply


async def _watch_release(ctx: CommandContext, reply: CommandReply) -> None:
    """A release is read through its series' listing (the API has no single-release read)."""
    release = getattr(reply, "data", None)
    series = getattr(release, "seriesId", None)
    if release is not None and series:
        await ctx.watches.watch("release", str(release.id), parents={"seriesId": str(series)})


async def release_create(cmd: c.ReleaseCreateCommand, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.create_release(
        cmd.seriesId, cast(p.ReleaseCreate, cmd.body()), idempotency_key=ctx.idempotency_key
    )
    await _watch_release(ctx, reply)
    return reply


async def release_describe(cmd: c.ReleaseDescribeCommand, ctx: CommandContext) -> CommandReply:
    return await ctx.api.describe_release(
        cmd.releaseId, cast(p.ReleaseDescribe, cmd.body()), idempotency_key=ctx.idempotency_key
    )


async def release_publish(cmd: c.ReleasePublishCommand, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.publish_release(
        cmd.releaseId, cast(p.ReleasePublish, cmd.body()), idempotency_key=ctx.idempotency_key
    )
    await _watch_release(ctx, reply)  # followed until published
    return reply


async def release_refresh_media(
    cmd: c.ReleaseRefreshMediaCommand, ctx: CommandContext
) -> CommandReply:
    return await ctx.api.refresh_release_media(
        cmd.releaseId, cast(p.ReleaseRefreshMedia, cmd.body()), idempotency_key=ctx.idempotency_key
    )


async def release_list(cmd: c.ReleaseListCommand, ctx: CommandContext) -> CommandReply:
    # The outcome's result is the page as returned: `{releases, nextCursor}`.
    return await ctx.api.list_releases(
        cmd.seriesId, status=cmd.status, cursor=cmd.cursor, limit=cmd.limit
    )


async def artifact_start_live(cmd: c.ArtifactStartLiveCommand, ctx: CommandContext) -> CommandReply:
    token = cmd.token
    if token is None:
        art = await ctx.api.get_artifact(cmd.artifactId)
        token = getattr(art.data.manifest, "shareToken", None) if art.data.manifest else None
        if not token:
            raise RequestValidationError(
                f"artifact {cmd.artifactId} has no share token yet (is it READY?)", field="token"
            )
    return await ctx.api.start_live({"token": token})


async def agent_guidance_get(cmd: c.AgentGuidanceGetCommand, ctx: CommandContext) -> CommandReply:
    return await ctx.api.get_agent_guidance()


async def cast_canon_update(cmd: c.CastCanonUpdateCommand, ctx: CommandContext) -> CommandReply:
    body = cmd.body()
    payload: dict[str, Any] = body.to_body() if body is not None else {}
    return await ctx.api.update_cast_canon(
        cmd.projectId, payload, idempotency_key=ctx.idempotency_key
    )


HANDLERS: dict[str, CommandHandler] = {
    "plan.resume": plan_resume,
    "job.resume": job_resume,
    "release.create": release_create,
    "release.describe": release_describe,
    "release.publish": release_publish,
    "release.refresh_media": release_refresh_media,
    "release.list": release_list,
    "artifact.start_live": artifact_start_live,
    "agent_guidance.get": agent_guidance_get,
    "cast_canon.update": cast_canon_update,
}
