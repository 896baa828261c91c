"""watch.add / watch.remove for the Story API's resources: existence checks and watch starts."""

from __future__ import annotations

from typing import Any

from bridge.providers.story.onboarding import LISTED, listed_lookup, not_found
from handlers.base import CommandContext
from handlers.story import story
from handlers.watches import singly
from schemas.wire.commands import STORY_WATCHED, WatchAddCommand, WatchCommand

RELEASE_PAGES = 5  # like the provider's reads of a release (bridge.providers.story.watch.provider.MAX_LIST_PAGES)


async def _read(cmd: WatchCommand, ctx: CommandContext, id: str) -> None:
    """One GET, so a made-up id is answered with the API's not-found error (raised from here)
    instead of a watch that would poll it until `watch.gone`."""
    api, resource = story(ctx), str(cmd.resource)
    if resource == "source":
        await api.get_source(cmd.projectId, id)
    elif resource == "plan":
        await api.get_plan(id)
    elif resource == "job":
        await api.get_job(id)
    else:
        await api.get_artifact(id)


async def _releases(cmd: WatchCommand, ctx: CommandContext, ids: list[str]) -> set[str]:
    """The API has no single-release read: look for them in their series' listing, as far as the
    watch would (the provider reads at most RELEASE_PAGES pages)."""
    found: set[str] = set()
    cursor: str | None = None
    for _ in range(RELEASE_PAGES):
        page = await story(ctx).list_releases(cmd.seriesId, cursor=cursor, limit=100)
        raw = page.raw if isinstance(page.raw, dict) else {}
        found |= {str(r.get("id")) for r in raw.get("releases") or [] if isinstance(r, dict)}
        cursor = raw.get("nextCursor")
        if not cursor or found >= set(ids):
            break
    return found & set(ids)


class StoryWatchTargets:
    resources = STORY_WATCHED
    integer_ids = False

    async def existing(self, cmd: WatchAddCommand, ctx: CommandContext, ids: list[str]) -> set[str]:
        """Which of `ids` exist: from the project's listing where there is one (a page per 100
        ids, shared with concurrent watch.adds), from the series' listing for releases, else one
        read each."""
        resource = str(cmd.resource)
        if resource == "release":
            return await _releases(cmd, ctx, ids)
        if resource in LISTED and cmd.projectId:
            found = await listed_lookup(story(ctx)).find(resource, cmd.projectId, ids)
            return set(found.present) | await singly(_read, cmd, ctx, sorted(found.unknown))
        return await singly(_read, cmd, ctx, ids)

    def missing(self, cmd: WatchAddCommand, ids: list[str]) -> Exception:
        where = f"project {cmd.projectId}" if cmd.projectId else "the API"
        if cmd.resource == "release":
            where = f"series {cmd.seriesId}'s releases"
        return not_found(str(cmd.resource), ids, where)

    async def start(self, cmd: WatchAddCommand, ctx: CommandContext, id: str) -> None:
        parents = {"seriesId": cmd.seriesId} if cmd.seriesId else None
        await ctx.watches.watch(str(cmd.resource), id, project_id=cmd.projectId, parents=parents)

    def describe(self, cmd: WatchCommand) -> dict[str, Any]:
        out: dict[str, Any] = {"resource": str(cmd.resource), "id": cmd.id}
        out["projectId"] = cmd.projectId
        if cmd.seriesId:
            out["seriesId"] = cmd.seriesId
        return out
