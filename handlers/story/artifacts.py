"""artifact.* commands. Those that start work finishing later start watches: refine, finalize,
render_video, coverage, music (and its defined clips), and, as project additions, sfx (cue sounds),
cast / avatar (avatars), voice and cast with voices (the voice map: the `cast` facet) and
voice_modification (its ranges)."""

from __future__ import annotations

import typing
from typing import Any

from handlers.base import CommandContext, CommandHandler, CommandReply
from schemas.story import commands as c
from schemas.story import requests as q
from schemas.story.enums import SfxOp


async def refine(cmd: Any, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.artifact_refine(
        cmd.artifactId, cmd.body(), idempotency_key=ctx.idempotency_key
    )
    job = reply.data
    await ctx.watches.watch("job", job.id, project_id=getattr(job, "projectId", None))
    await ctx.watches.watch("artifact", cmd.artifactId, facets=("revised",))
    return reply


async def finalize(cmd: Any, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.artifact_finalize(
        cmd.artifactId, cmd.body(), idempotency_key=ctx.idempotency_key
    )
    facet = "video" if str(getattr(cmd, "mode", None) or "audio") == "video" else "finalize"
    await ctx.watches.watch("artifact", cmd.artifactId, facets=(facet,))
    return reply


async def render_video(cmd: Any, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.artifact_render_video(cmd.artifactId, idempotency_key=ctx.idempotency_key)
    await ctx.watches.watch("artifact", cmd.artifactId, facets=("video",))
    return reply


async def coverage(cmd: Any, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.artifact_coverage(
        cmd.artifactId, cmd.body(), idempotency_key=ctx.idempotency_key
    )
    report_id = getattr(reply.data, "reportId", None)
    parents = {"reportId": report_id} if report_id else None
    await ctx.watches.watch("artifact", cmd.artifactId, facets=("coverage",), parents=parents)
    return reply


async def music(cmd: c.ArtifactMusicCommand, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.artifact_music(
        cmd.artifactId,
        typing.cast(q.ArtifactMusic, cmd.body()),
        idempotency_key=ctx.idempotency_key,
    )
    # The defined-clip shapes (directive, clip, regenerateScenes) render beds: follow them too.
    clips = ("music_clips", "music_clip") if _defined_clips(cmd) else ()
    await ctx.watches.watch("artifact", cmd.artifactId, facets=("music", *clips))
    return reply


def _defined_clips(cmd: c.ArtifactMusicCommand) -> bool:
    shapes = (cmd.scope, cmd.mode, cmd.musicMode, cmd.clip, cmd.regenerateScenes)
    return any(value is not None for value in shapes)


async def voice(cmd: Any, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.artifact_voice(
        cmd.artifactId, cmd.body(), idempotency_key=ctx.idempotency_key
    )
    # The recast is done when the API answers; the watch publishes it (artifact.cast.changed).
    await ctx.watches.watch("artifact", cmd.artifactId, facets=("cast",))
    return reply


async def sfx(cmd: c.ArtifactSfxCommand, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.artifact_sfx(
        cmd.artifactId, typing.cast(q.ArtifactSfx, cmd.body()), idempotency_key=ctx.idempotency_key
    )
    if cmd.op is not SfxOp.REMOVE:  # a cue's sound is generated after the answer
        await ctx.watches.watch("artifact", cmd.artifactId, facets=("sfx",))
    return reply


async def cast(cmd: c.ArtifactCastCommand, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.artifact_cast(
        cmd.artifactId, typing.cast(q.ArtifactCast, cmd.body()), idempotency_key=ctx.idempotency_key
    )
    # Entries that assign voices change the voice map too; a restyle alone leaves it alone (a first
    # sight of the map would otherwise publish a `changed` nobody made).
    voices = any(entry.voiceId for entry in cmd.entries or [])
    facets = ("avatar", "cast") if voices else ("avatar",)
    await ctx.watches.watch("artifact", cmd.artifactId, facets=facets)
    return reply


async def avatar(cmd: c.ArtifactAvatarCommand, ctx: CommandContext) -> CommandReply:
    reply = await ctx.api.artifact_avatar(
        cmd.artifactId,
        typing.cast(q.ArtifactAvatar, cmd.body()),
        idempotency_key=ctx.idempotency_key,
    )
    await ctx.watches.watch("artifact", cmd.artifactId, facets=("avatar",))
    return reply


async def voice_modification(
    cmd: c.ArtifactVoiceModificationCommand, ctx: CommandContext
) -> CommandReply:
    reply = await ctx.api.artifact_voice_modification(
        cmd.artifactId,
        typing.cast(q.ArtifactVoiceModification, cmd.body()),
        idempotency_key=ctx.idempotency_key,
    )
    await ctx.watches.watch("artifact", cmd.artifactId, facets=("voice_modification",))
    return reply


HANDLERS: dict[str, CommandHandler] = {
    "artifact.refine": refine,
    "artifact.finalize": finalize,
    "artifact.render_video": render_video,
    "artifact.coverage": coverage,
    "artifact.music": music,
    "artifact.voice": voice,
    "artifact.sfx": sfx,
    "artifact.cast": cast,
    "artifact.avatar": avatar,
    "artifact.voice_modification": voice_modification,
}
