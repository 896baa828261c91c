"""Handing existing work to the bridge priced per listing page, not per watch.

`watch.add` checks that what it is asked to follow exists, so a made-up id is answered with the
API's not-found code instead of a watch that polls it until `watch.gone`. One `GET` per id made
onboarding 1,000 running jobs cost 1,000 requests (over eight minutes of the default tier's
budget, shared with every command). A project's listing answers the same question for 100 items a
page, so checks of sources, plans and jobs of one project are gathered (concurrent `watch.add`s
included: whoever asks within `GATHER_SECONDS` of an open batch joins it) and answered from the
pages. A batch never costs more than the single reads it replaces: after as many pages as it has
ids still unfound, the rest are left to single reads by the caller.

Every id a walk saw is remembered for `SEEN_SECONDS`: the request/reply intake runs at most
`STORYBRIDGE_MAX_IN_FLIGHT` commands at once, so 1,000 single `watch.add`s arrive in waves, and
each wave after the first is answered from the pages the first one read. An id the listing did not
show is never answered from memory: it is looked up again (a made-up id still costs its page).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from bridge.http.errors import NotFound
from bridge.http.ratelimit import Priority
from bridge.providers.story.watch.listing import LIST_ITEMS, list_page

LISTED = LIST_ITEMS  # the resources a project's listing holds, by their listing's items key
GATHER_SECONDS = 0.05
SEEN_SECONDS = 60.0
NOT_FOUND_CODES = {
    "source": "source_not_found",
    "plan": "story_plan_not_found",
    "job": "story_job_not_found",
    "artifact": "artifact_not_found",
    "release": "release_not_found",
}


@dataclass(frozen=True)
class Found:
    """What a batch of listing pages said about the ids asked for."""

    present: frozenset[str]  # listed
    absent: frozenset[str]  # the whole listing was read and they are not in it
    unknown: frozenset[str]  # not read far enough to tell: read these singly


@dataclass
class _Batch:
    wanted: set[str] = field(default_factory=set)
    started: bool = False
    result: asyncio.Future[Found] | None = None


def not_found(resource: str, missing: Collection[str], where: str) -> NotFound:
    """The API's not-found error for ids a listing proved absent."""
    ids = ", ".join(sorted(missing)[:10]) + (" ..." if len(missing) > 10 else "")
    return NotFound(
        f"{resource} {ids} not found in {where}",
        code=NOT_FOUND_CODES.get(resource, "not_found"),
        status=404,
        details={"notFound": sorted(missing)},
    )


class ListedLookup:
    """Existence checks of one client's sources, plans and jobs, from their project's listing."""

    def __init__(
        self,
        client: Any,
        *,
        gather_seconds: float = GATHER_SECONDS,
        seen_seconds: float = SEEN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.gather_seconds = gather_seconds
        self.seen_seconds = seen_seconds
        self._clock = clock
        self._open: dict[tuple[str, str], _Batch] = {}
        # (resource, project) -> (until, ids a walk saw listed)
        self._seen: dict[tuple[str, str], tuple[float, set[str]]] = {}
        self.pages_read = 0  # for tests and the bench: what onboarding cost

    async def find(self, resource: str, project: str, ids: Collection[str]) -> Found:
        """Which of `ids` (of `resource`, in `project`) the listing holds, proves absent, or
        leaves unknown; concurrent calls for the same project share the pages."""
        key = (resource, project)
        mine = set(ids)
        known = mine & self._recently_listed(key)
        if known == mine:
            return Found(frozenset(known), frozenset(), frozenset())
        batch = self._open.get(key)
        if batch is None or batch.started:
            batch = _Batch(result=asyncio.get_running_loop().create_future())
            self._open[key] = batch
            asyncio.get_running_loop().create_task(self._run(key, batch))
        batch.wanted.update(mine - known)
        assert batch.result is not None
        found = await asyncio.shield(batch.result)
        return Found(
            present=frozenset((found.present & mine) | known),
            absent=frozenset(found.absent & mine),
            unknown=frozenset(found.unknown & mine),
        )

    def _recently_listed(self, key: tuple[str, str]) -> set[str]:
        now = self._clock()
        for stale in [k for k, (until, _) in self._seen.items() if until <= now]:
            del self._seen[stale]  # every index shrinks with what it indexes
        entry = self._seen.get(key)
        return entry[1] if entry is not None else set()

    def _remember(self, key: tuple[str, str], listed: set[str]) -> None:
        until = self._clock() + self.seen_seconds
        entry = self._seen.get(key)
        self._seen[key] = (until, (entry[1] if entry else set()) | listed)

    async def _run(self, key: tuple[str, str], batch: _Batch) -> None:
        assert batch.result is not None
        await asyncio.sleep(self.gather_seconds)
        batch.started = True
        if self._open.get(key) is batch:
            del self._open[key]
        try:
            found = await self._walk(*key, set(batch.wanted))
        except Exception as err:
            batch.result.set_exception(err)
            batch.result.exception()  # retrieved: waiters that left must not warn
        else:
            batch.result.set_result(found)

    async def _walk(self, resource: str, project: str, wanted: set[str]) -> Found:
        listed: set[str] = set()
        cursor: str | None = None
        pages = 0
        try:
            while True:
                raw = await self._page(resource, project, cursor)
                pages += 1
                self.pages_read += 1
                listed |= {
                    str(item.get("id"))
                    for item in raw.get(LISTED[resource]) or []
                    if isinstance(item, dict)
                }
                left = wanted - listed
                next_cursor = raw.get("nextCursor") or None
                if not left:
                    return Found(frozenset(wanted), frozenset(), frozenset())
                if next_cursor is None:
                    return Found(frozenset(wanted & listed), frozenset(left), frozenset())
                if pages >= len(left):  # more pages would cost more than the rest singly
                    return Found(frozenset(wanted & listed), frozenset(), frozenset(left))
                cursor = str(next_cursor)
        finally:
            self._remember((resource, project), listed)

    async def _page(self, resource: str, project: str, cursor: str | None) -> dict[str, Any]:
        resp = await list_page(self.client, resource, project, cursor, priority=Priority.COMMAND)
        return resp.raw if isinstance(resp.raw, dict) else {}


_lookups: weakref.WeakKeyDictionary[Any, ListedLookup] = weakref.WeakKeyDictionary()


def listed_lookup(client: Any) -> ListedLookup:
    """The one lookup of `client`, so that every command on it shares the batches."""
    lookup = _lookups.get(client)
    if lookup is None:
        lookup = _lookups[client] = ListedLookup(client)
    return lookup
