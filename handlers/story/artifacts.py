"""artifact.* commands, one table row each: the endpoint, and which facets of the artifact to watch
afterwards. Those that start work finishing later watch it: refine (and the job it starts),
finalize, render_video, coverage, music (and its defined clips), and, as project additions, sfx
(cue sounds), cast / avatar (avatars), voice and cast with voices (the voice map: the `cast` facet)
and voice_modification (its ranges)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from bridge.http.transport import ApiResponse
from bridge.providers.story.client import StoryClient as Api
from handlers.base import After, CommandContext, calls, handler_table
from schemas.story import commands as c
from schemas.story.enums import SfxOp
from schemas.wire.commands import Command

C = TypeVar("C", bound=Command)
Facets = tuple[str, ...]


def starts_artifact_watch(
    facets: Facets | Callable[[C], Facets],
    parents: Callable[[ApiResponse[Any]], dict[str, str] | None] | None = None,
) -> After[C]:
    """After the call, watch these facets of the command's artifact (none: no watch)."""

    async def after(cmd: C, reply: ApiResponse[Any], ctx: CommandContext) -> None:
        chosen = facets(cmd) if callable(facets) else facets
        if chosen:
            found = parents(reply) if parents is not None else None
            await ctx.watches.watch(
                "artifact", cmd.path()["artifactId"], facets=chosen, parents=found
            )

    return after


async def _refined(
    cmd: c.ArtifactRefineCommand, reply: ApiResponse[Any], ctx: CommandContext
) -> None:
    job = reply.data  # refine answers the story job it started: watched with its artifacts
    await ctx.watches.watch("job", job.id, project_id=getattr(job, "projectId", None))
    await ctx.watches.watch("artifact", cmd.artifactId, facets=("revised",))


def _finalized(cmd: c.ArtifactFinalizeCommand) -> Facets:
    return ("video",) if str(cmd.mode or "audio") == "video" else ("finalize",)


def _report(reply: ApiResponse[Any]) -> dict[str, str] | None:
    report_id = getattr(reply.data, "reportId", None)
    return {"reportId": report_id} if report_id else None


def _music(cmd: c.ArtifactMusicCommand) -> Facets:
    # The defined-clip shapes (directive, clip, regenerateScenes) render beds: follow them too.
    shapes = (cmd.scope, cmd.mode, cmd.musicMode, cmd.clip, cmd.regenerateScenes)
    clips = ("music_clips", "music_clip") if any(v is not None for v in shapes) else ()
    return ("music", *clips)


def _sfx(cmd: c.ArtifactSfxCommand) -> Facets:
    return () if cmd.op is SfxOp.REMOVE else ("sfx",)  # a cue's sound is generated after the answer


def _cast(cmd: c.ArtifactCastCommand) -> Facets:
    # Entries that assign voices change the voice map too; a restyle alone leaves it alone (a first
    # sight of the map would otherwise publish a `changed` nobody made).
    voices = any(entry.voiceId for entry in cmd.entries or [])
    return ("avatar", "cast") if voices else ("avatar",)


HANDLERS = handler_table(
    calls(c.ArtifactRefineCommand, Api.artifact_refine, after=_refined),
    calls(
        c.ArtifactFinalizeCommand, Api.artifact_finalize, after=starts_artifact_watch(_finalized)
    ),
    calls(
        c.ArtifactRenderVideoCommand,
        Api.artifact_render_video,
        after=starts_artifact_watch(("video",)),
    ),
    calls(
        c.ArtifactCoverageCommand,
        Api.artifact_coverage,
        starts_artifact_watch(("coverage",), _report),
    ),
    calls(c.ArtifactMusicCommand, Api.artifact_music, after=starts_artifact_watch(_music)),
    # The recast is done when the API answers; the watch publishes it (artifact.cast.changed).
    calls(c.ArtifactVoiceCommand, Api.artifact_voice, after=starts_artifact_watch(("cast",))),
    calls(c.ArtifactSfxCommand, Api.artifact_sfx, after=starts_artifact_watch(_sfx)),
    calls(c.ArtifactCastCommand, Api.artifact_cast, after=starts_artifact_watch(_cast)),
    calls(c.ArtifactAvatarCommand, Api.artifact_avatar, after=starts_artifact_watch(("avatar",))),
    calls(
        c.ArtifactVoiceModificationCommand,
        Api.artifact_voice_modification,
        after=starts_artifact_watch(("voice_modification",)),
    ),
)
