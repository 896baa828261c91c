"""Discovery for the Story API: what is in progress that nobody asked the bridge to watch.

Off by default (`STORYBRIDGE_DISCOVERY_INTERVAL_SECONDS=0`). Each sweep lists, at `Priority.POLL`
and 100 items per page (the API's largest):

| listing | finds | API cost per sweep |
|---|---|---|
| `GET /story-projects` | the projects to look into | ceil(projects / 100) |
| `GET /story-projects/{id}/story-plans` | plans not terminal | ceil(plans / 100) per project |
| `GET /story-jobs?projectId=` | jobs not terminal; and, from the artifacts each job embeds, artifacts whose finalize, video or voice-modification ranges are in flight | ceil(jobs / 100) per project |
| `GET /story-projects/{id}/sources` | url/pdf sources extracting, digests pending or running | ceil(sources / 100) per project |

So a sweep costs `ceil(P/100) + sum over projects of (ceil(plans/100) + ceil(jobs/100) +
ceil(sources/100))` list calls: 1 + 3 per project for accounts whose projects hold under 100 of
each. Facets that only a side read shows (music, coverage, SFX cues, avatars, defined clips) are
not discovered: finding them would cost one to three more calls per artifact per sweep; start
them with `watch.add` or their command. A resource already watched (even finished) is not watched
again, but its listed item is a read of its watch (`Sighting`): a job page read by discovery is a
poll of the watched jobs it holds, and a job discovery starts to watch is not read again at once.

Every list call first waits for `pace` (`DiscoveryPace`): discovery spends at most
`STORYBRIDGE_DISCOVERY_BUDGET_SHARE` (0.2) of the poll budget, so an interval the budget cannot
pay for stretches the sweep instead of starving the watches it found.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bridge.http.ratelimit import Priority
from bridge.providers.story.watch import facets
from bridge.providers.story.watch.listing import LIST_ITEMS, complete, list_page
from bridge.watch.model import Listing, Reading, Sighting, WatchSpec

POLL = Priority.POLL
WINDOW_SECONDS = 60.0
PAGE = 100
SOURCE_BUSY = frozenset({"pending", "extracting"})
DIGEST_BUSY = frozenset({"pending", "running"})
FINALIZE_BUSY = frozenset({"queued", "rendering", "uploading"})
VIDEO_BUSY = frozenset({"queued", "rendering"})
MODIFICATION_DONE = frozenset({"ready", "failed"})


def _field(obj: Any, name: str) -> Any:
    value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return getattr(value, "value", value)


def busy_artifact_facets(art: Any) -> tuple[str, ...]:
    """The facets of an embedded artifact with work in flight, read from its manifest alone."""
    found = []
    if facets.lower(facets.dig(art, "manifest", "audio", "finalize", "status")) in FINALIZE_BUSY:
        found.append("finalize")
    if facets.lower(facets.dig(art, "manifest", "video", "status")) in VIDEO_BUSY:
        found.append("video")
    records = facets.dig(art, "manifest", "audio", "modifications") or []
    if any(
        isinstance(r, dict) and facets.lower(r.get("status"), "queued") not in MODIFICATION_DONE
        for r in records
    ):
        found.append("voice_modification")
    return tuple(found)


Pace = Callable[[], Awaitable[None]]


async def _unpaced() -> None:
    return None


class DiscoveryPace:
    """At most `per_second` discovery calls a second, on average (a token bucket one call deep:
    a sweep never bursts a window's worth of calls ahead of the watches). It also tells how many
    calls it let through over the last minute, which the poller leaves to it (`recent_per_second`):
    polls planned at the whole poll share plus discovery on top overfill the key's rolling window,
    and a full window stalls every poll until its oldest call ages out."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.per_second = per_second
        self._clock = clock
        self._sleep = sleep  # a benchmark's API clock runs faster than the wall's
        self._next = 0.0
        self._calls: deque[float] = deque()

    async def __call__(self) -> None:
        now = self._clock()
        if self.per_second > 0:
            wait = self._next - now
            self._next = max(now, self._next) + 1.0 / self.per_second
            if wait > 0:
                await self._sleep(wait)
        self._calls.append(self._clock())

    def recent_per_second(self) -> float:
        """Discovery calls a second over the last minute (the window the key's budget counts)."""
        horizon = self._clock() - WINDOW_SECONDS
        while self._calls and self._calls[0] <= horizon:
            self._calls.popleft()
        return len(self._calls) / WINDOW_SECONDS


Page = tuple[list[Any], str | None]  # a page's items and the cursor of the next one


async def _walk(
    pace: Pace, page: Callable[[str | None], Awaitable[Page]]
) -> AsyncIterator[list[Any]]:
    """Every page of a listing, one paced call at a time (a cursor seen before ends the walk)."""
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        await pace()
        items, cursor = await page(cursor)
        yield items
        if cursor is None or cursor in seen:
            return
        seen.add(cursor)


async def _each(pages: AsyncIterator[list[Any]]) -> AsyncIterator[Any]:
    async for items in pages:
        for item in items:
            yield item


def _projects(client: Any) -> Callable[[str | None], Awaitable[Page]]:
    async def page(cursor: str | None) -> Page:
        got = await client.list_projects(cursor=cursor, limit=PAGE, priority=POLL)
        return list(got.data.items), got.data.next_cursor

    return page


def _listing(client: Any, resource: str, pid: str) -> Callable[[str | None], Awaitable[Page]]:
    """A project's sources, plans or jobs as the API returned them: the same pages the poller
    reads, so an item is a read of its watch."""

    async def page(cursor: str | None) -> Page:
        got = await list_page(client, resource, pid, cursor, priority=POLL)
        raw = got.raw if isinstance(got.raw, dict) else {}
        items = raw.get(LIST_ITEMS[resource]) or []
        found = [i for i in items if isinstance(i, dict) and i.get("id") is not None]
        return found, raw.get("nextCursor") or None

    return page


def _busy(resource: str, item: dict[str, Any]) -> bool:
    """Work in flight: what discovery starts a watch of."""
    if resource == "plan":
        return facets.lower(item.get("status"), "pending") not in facets.PLAN_TERMINAL
    if resource == "job":
        return facets.lower(item.get("status"), "pending") not in facets.JOB_TERMINAL
    status = facets.lower(item.get("status"), "ready")
    digest = facets.lower(item.get("digestStatus"), "not_started")
    return status in SOURCE_BUSY or digest in DIGEST_BUSY


async def discover(
    client: Any,
    provider: str,
    pace: Pace = _unpaced,
    *,
    listable: frozenset[str] = frozenset(LIST_ITEMS),
) -> AsyncIterator[WatchSpec | Listing]:
    """Each page of plans, jobs and sources as a `Listing` (an item `wanted` when not terminal),
    and artifacts with facets in flight (origin "discovery"). Items of a resource the poller no
    longer reads from its listing (`listable`: the listing proved too thin) are only specs."""

    def spec(resource: str, id: Any, pid: str, found: tuple[str, ...] | None = None) -> WatchSpec:
        return WatchSpec(
            provider=provider, resource=resource, id=str(id), parents={"projectId": pid},
            facets=found, origin="discovery",
        )  # fmt: skip

    async for project in _each(_walk(pace, _projects(client))):
        pid = str(_field(project, "id"))
        for resource in ("plan", "job", "source"):
            async for items in _walk(pace, _listing(client, resource, pid)):
                sightings: list[Sighting] = []
                for item in items:
                    wanted = _busy(resource, item)
                    if resource in listable and complete(resource, item):
                        sightings.append(
                            Sighting(spec(resource, item["id"], pid), Reading(item), wanted)
                        )
                    elif wanted:
                        yield spec(resource, item["id"], pid)
                if sightings:
                    yield Listing(tuple(sightings))
                for job in items if resource == "job" else ():
                    for art in job.get("artifacts") or []:
                        busy = busy_artifact_facets(art)
                        if busy and isinstance(art, dict) and art.get("id") is not None:
                            yield spec("artifact", art["id"], pid, ("status", *busy))
