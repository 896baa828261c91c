"""The Story API behind the watch engine's `Provider` seam.

Reads go through `StoryClient` at `Priority.POLL`, so the shared rate budget keeps commands first
and honours Retry-After. Several watched sources, plans or jobs of one project are read with one
list call (`batch_key` makes the engine poll them together); artifacts, and anything the listing
does not show, are read one by one.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import structlog

from bridge.http.errors import NotFound, UpstreamError
from bridge.http.ratelimit import Priority
from bridge.providers.read_errors import read_error
from bridge.providers.story.watch import discovery as story_discovery
from bridge.providers.story.watch import facets
from bridge.providers.story.watch import facets_extra as added
from bridge.providers.story.watch.listing import LIST_ITEMS, LIST_PAGE, complete, list_page
from bridge.watch.model import Listing, Observation, ReadError, Reading, WatchSpec

log = structlog.get_logger(__name__)

POLL = Priority.POLL
TYPE_PREFIX = "studio.sleeperhit.story"
# (min, max) seconds between polls, from the API docs and FIELD-NOTES.
INTERVALS: dict[str, tuple[float, float]] = {
    "source": (2.0, 5.0),
    "plan": (5.0, 15.0),
    "job": (5.0, 15.0),
    "artifact": (3.0, 15.0),
    "release": (3.0, 15.0),  # project addition: publishing takes seconds to minutes
}
# Further pages are read only while they could replace two or more single reads, and at most this
# many in all: a project with a long history must not cost more than reading its watches singly.
MAX_LIST_PAGES = 5
MAX_REMEMBERED_LISTINGS = 4096  # listings whose pages are remembered (a few hundred bytes each)
Result = Reading | ReadError
__all__ = ["LIST_ITEMS", "StoryProvider", "list_page"]


class StoryProvider:
    """Watches Story API sources, plans, jobs and artifacts (see `story_facets` for the facets)."""

    name: str = "story"
    resources: tuple[str, ...] = ("source", "plan", "job", "artifact", "release")
    type_prefix: str = TYPE_PREFIX
    source: str

    def __init__(
        self,
        client: Any,
        *,
        base_url: str | None = None,
        concurrency: int = 8,
        batch_min: int = 2,
        discovery_per_second: float = 0.0,
    ) -> None:
        self.client = client
        # 0: unpaced (tests, tools); the runtime passes its share of the poll budget.
        self.discovery_pace = story_discovery.DiscoveryPace(discovery_per_second)
        self.source = (base_url or str(getattr(client, "base_url", ""))).rstrip("/")
        self.batch_min = batch_min
        self._gate = asyncio.Semaphore(concurrency)
        self._listable = set(LIST_ITEMS)  # a resource leaves once its listing proves too thin
        # (resource, project, plan) -> start cursors of the pages that held watched items, for
        # listings longer than one page only; least recently read first. Bounded: nothing tells
        # the provider when a project's last watch retires, and a forgotten entry only costs a
        # walk from the first page.
        self._pages: OrderedDict[tuple[str, str, str | None], list[str | None]] = OrderedDict()

    # -- reading ---------------------------------------------------------------------------------

    def batch_key(self, spec: WatchSpec) -> str | None:
        project = spec.parents.get("projectId")
        return f"{spec.resource}:{project}" if spec.resource in self._listable and project else None

    async def read(self, specs: Sequence[WatchSpec]) -> dict[str, Result]:
        out: dict[str, Result] = {}
        singles: list[WatchSpec] = []
        groups: dict[tuple[str, str], list[WatchSpec]] = {}
        for spec in specs:
            project = spec.parents.get("projectId")
            if spec.resource in self._listable and project:
                groups.setdefault((spec.resource, project), []).append(spec)
            else:
                singles.append(spec)
        for (resource, project), group in groups.items():
            if len(group) < self.batch_min:
                singles.extend(group)
                continue
            plans = {spec.parents.get("storyPlanId") for spec in group}
            # One plan's jobs are a subset of the project's listing: never more pages, often fewer.
            plan = plans.pop() if resource == "job" and len(plans) == 1 else None
            found = await self._list(resource, project, {spec.id for spec in group}, plan)
            for spec in group:
                if isinstance(found, ReadError):
                    out[spec.key] = found
                elif spec.id in found:
                    out[spec.key] = Reading(found[spec.id])
                else:
                    singles.append(spec)  # beyond the pages read, just created, or too thin
        results = await asyncio.gather(*(self._read_one(spec) for spec in singles))
        out.update({spec.key: res for spec, res in zip(singles, results, strict=True)})
        return out

    async def _list(
        self, resource: str, project: str, wanted: set[str], plan: str | None = None
    ) -> dict[str, Any] | ReadError:
        """The listed items of `project` whose id is in `wanted`, one call per page that holds
        one of them: the listing is oldest first and a page after a cursor always holds the same
        items, so the pages that held watched items last time are read again from their cursors,
        and only then further pages (where newer items appear) while they could replace two or
        more single reads."""
        group = (resource, project, plan)
        found: dict[str, Any] = {}
        holding: list[str | None] = []  # start cursors of the pages that held a watched item
        starts: list[str | None] = list(self._pages.get(group, [None]))
        reads = 0
        cursor: str | None = None
        while reads < MAX_LIST_PAGES:
            start = starts.pop(0) if starts else cursor
            if reads and not starts and start is None:
                break
            try:
                async with self._gate:
                    resp = await self._list_page(resource, project, plan, start)
            except NotFound:
                # A 404 on a list call says nothing about the items: read them one by one.
                log.info("listing answered 404, reading singly", resource=resource, project=project)
                self._pages.pop(group, None)
                return found
            except UpstreamError as err:
                return found or read_error(err)
            reads += 1
            raw = resp.raw if isinstance(resp.raw, dict) else {}
            held = False
            for item in raw.get(LIST_ITEMS[resource]) or []:
                if not isinstance(item, dict) or str(item.get("id")) not in wanted:
                    continue
                if not complete(resource, item):
                    log.info(
                        "listing lacks what a watch follows, reading singly", resource=resource
                    )
                    self._listable.discard(resource)
                    return found
                found[str(item["id"])] = item
                held = True
            if held:
                holding.append(start)
            cursor = raw.get("nextCursor") or None
            if not starts and (not cursor or len(wanted - found.keys()) < 2):
                break
        if holding and holding != [None]:
            self._pages[group] = holding
            self._pages.move_to_end(group)
            while len(self._pages) > MAX_REMEMBERED_LISTINGS:
                self._pages.popitem(last=False)
        else:
            self._pages.pop(group, None)  # one page from the start: nothing worth remembering
        return found

    async def _list_page(
        self, resource: str, project: str, plan: str | None, cursor: str | None
    ) -> Any:
        return await list_page(self.client, resource, project, cursor, plan=plan, priority=POLL)

    async def _read_one(self, spec: WatchSpec) -> Result:
        try:
            async with self._gate:
                return await self._get(spec)
        except UpstreamError as err:
            return read_error(err)

    async def _get(self, spec: WatchSpec) -> Result:
        c = self.client
        if spec.resource == "source":
            project = spec.parents.get("projectId")
            if not project:
                return ReadError("a source watch needs projectId", not_found=True)
            return Reading(_body(await c.get_source(project, spec.id, priority=POLL), "source"))
        if spec.resource == "plan":
            return Reading(_body(await c.get_plan(spec.id, priority=POLL), "plan"))
        if spec.resource == "job":
            return Reading(_body(await c.get_job(spec.id, priority=POLL), "job"))
        if spec.resource == "release":
            return await self._get_release(spec)
        if spec.resource != "artifact":
            return ReadError(f"unknown resource {spec.resource!r}", not_found=True)
        art = _body(await c.get_artifact(spec.id, priority=POLL), "artifact")
        extra: dict[str, Any] = {}
        wanted = spec.facets or facets.default_facets(spec)
        # Side reads of the project's added facets (story_facets_extra), one per endpoint needed.
        sides = {extra_side for f in wanted if (extra_side := facets_extra_side(f))}
        if "sfx" in sides:
            extra["sfx"] = _body(await c.get_artifact_sfx(spec.id, priority=POLL), "sfx")
        if "cast" in sides:
            # `{cast: [...]}` (FIELD-NOTES) beside artifactId/avatarStyle: kept whole.
            extra["cast"] = (await c.get_artifact_cast(spec.id, priority=POLL)).raw
        if "music" in wanted or "music" in sides:
            extra["music"] = _body(await c.get_artifact_music(spec.id, priority=POLL), "music")
        if "coverage" in wanted:
            report = spec.parents.get("reportId")
            resp = await c.get_artifact_coverage(spec.id, report_id=report, priority=POLL)
            extra["coverage"] = _body(resp, "coverage")
        return Reading(art, extra)

    async def _get_release(self, spec: WatchSpec) -> Result:
        """The API has no single-release read: find it in its series' listing (oldest first; at
        most MAX_LIST_PAGES pages, like the other listings)."""
        series = spec.parents.get("seriesId")
        if not series:
            return ReadError("a release watch needs seriesId", not_found=True)
        cursor: str | None = None
        for _ in range(MAX_LIST_PAGES):
            page = await self.client.list_releases(
                series, cursor=cursor, limit=LIST_PAGE, priority=POLL
            )
            raw = page.raw if isinstance(page.raw, dict) else {}
            for item in raw.get("releases") or []:
                if isinstance(item, dict) and str(item.get("id")) == spec.id:
                    return Reading(item)
            cursor = raw.get("nextCursor")
            if not cursor:
                break
        return ReadError(f"release {spec.id} is not in series {series}'s listing")

    # -- naming and rules (pure, in story_facets and story_facets_extra) ------------------------

    def observe(self, spec: WatchSpec, reading: Reading) -> list[Observation]:
        if spec.resource == "release":
            return added.observe(spec, reading)
        return [*facets.observe(spec, reading), *added.observe(spec, reading)]

    def is_terminal(self, spec: WatchSpec, observations: Sequence[Observation]) -> bool:
        if spec.resource == "release":
            return bool(observations) and added.is_terminal(observations)
        return facets.is_terminal(spec, observations) and added.is_terminal(observations)

    def default_facets(self, spec: WatchSpec) -> tuple[str, ...]:
        """What `facets=None` follows (the engine spells it out when merging an explicit list)."""
        return facets.default_facets(spec)

    def fingerprint(self, spec: WatchSpec, reading: Reading) -> int:
        """Equal for an identical snapshot (the JSON as returned, in the API's order)."""
        return hash(json.dumps((reading.data, reading.extra), separators=(",", ":"), default=str))

    def poll_class(self, spec: WatchSpec, statuses: Mapping[str, str]) -> int:
        """The odds of change the poll policy orders reads by (see `facets.poll_class`)."""
        return facets.poll_class(spec, statuses)

    def poll_capacity(self, share: float) -> float | None:
        """Calls per second polls may spend now: the key's rate budget, commands' use taken off,
        and discovery's (its calls come out of the same share, not on top of it)."""
        budget = getattr(self.client, "budget", None)
        capacity = getattr(budget, "poll_capacity", None)
        if capacity is None:
            return None
        return max(0.0, float(capacity(share)) - self.discovery_pace.recent_per_second())

    def interval_bounds(self, resource: str) -> tuple[float, float]:
        return INTERVALS.get(resource, (5.0, 15.0))

    def event_subject(self, obs: Observation) -> str:
        return facets.event_subject(obs)

    def event_type(self, obs: Observation) -> str:
        return f"{TYPE_PREFIX}.{facets.event_subject(obs)}"

    def subject_path(self, spec: WatchSpec) -> str:
        if spec.resource == "release":
            return f"publishing-releases/{spec.id}"
        return facets.subject_path(spec.resource, spec.id, spec.parents.get("projectId"))

    def project_id(self, spec: WatchSpec) -> str | None:
        return spec.parents.get("projectId")

    # -- discovery -------------------------------------------------------------------------------

    async def discover(self) -> AsyncIterator[WatchSpec | Listing]:
        """What is in progress elsewhere (see `story_discovery` for what and its API cost)."""
        async for found in story_discovery.discover(
            self.client, self.name, self.discovery_pace, listable=frozenset(self._listable)
        ):
            yield found


def facets_extra_side(facet: str) -> str | None:
    """The side endpoint an added facet reads (`sfx`, `cast`, `music`), if any."""
    return added.SIDE_READS.get(facet)


def _body(resp: Any, envelope: str) -> Any:
    """The object as the API returned it (envelope removed), not the parsed model."""
    raw = getattr(resp, "raw", None)
    if isinstance(raw, dict) and envelope in raw:
        return raw[envelope]
    return raw
