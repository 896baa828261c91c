"""The Syllaby provider of the watch engine.

One `GET /text-to-scene/{id}` carries a storyboard, its video and all its scenes, so every watch
of one storyboard (the storyboard itself, any of its scenes) shares the batch key
`storyboard:<id>` and one read serves them all. A scene watched alone is read with its own
lightweight `GET .../scenes/{scene}/status`. Reads go at `Priority.POLL` through the Syllaby
client's own rate budget, so commands go first and the Story API's budget is untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bridge.http.errors import UpstreamError
from bridge.http.ratelimit import Priority
from bridge.providers.read_errors import read_error
from bridge.providers.syllaby.watch import facets
from bridge.watch.model import Observation, ReadError, Reading, WatchSpec

POLL = Priority.POLL
# (min, max) seconds between polls. The token allows 30 requests a minute for commands and polls
# together; generation and renders take tens of seconds to minutes.
INTERVALS: dict[str, tuple[float, float]] = {"storyboard": (4.0, 20.0), "scene": (4.0, 20.0)}
Result = Reading | ReadError


class SyllabyProvider:
    """Watches Syllaby storyboards (status, video) and scenes (status)."""

    name: str = facets.PROVIDER
    resources: tuple[str, ...] = ("storyboard", "scene")
    type_prefix: str = facets.TYPE_PREFIX
    source: str

    def __init__(self, client: Any, *, base_url: str | None = None, concurrency: int = 4) -> None:
        self.client = client
        self.source = (base_url or str(getattr(client, "base_url", ""))).rstrip("/")
        self._gate = asyncio.Semaphore(concurrency)

    # -- reading ---------------------------------------------------------------------------------
    def batch_key(self, spec: WatchSpec) -> str | None:
        storyboard = _storyboard_of(spec)
        return f"storyboard:{storyboard}" if storyboard else None

    async def read(self, specs: Sequence[WatchSpec]) -> dict[str, Result]:
        groups: dict[str, list[WatchSpec]] = {}
        out: dict[str, Result] = {}
        for spec in specs:
            storyboard = _storyboard_of(spec)
            if not storyboard:
                out[spec.key] = ReadError("a scene watch needs its storyboard id", not_found=True)
                continue
            groups.setdefault(storyboard, []).append(spec)
        results = await asyncio.gather(*(self._read_group(sb, g) for sb, g in groups.items()))
        for found in results:
            out.update(found)
        return out

    async def _read_group(self, storyboard: str, group: list[WatchSpec]) -> dict[str, Result]:
        try:
            async with self._gate:
                if len(group) == 1 and group[0].resource == "scene":
                    spec = group[0]
                    resp = await self.client.get_scene_status(storyboard, spec.id, priority=POLL)
                    return {spec.key: Reading(_data(resp))}
                resp = await self.client.request(
                    "GET", f"text-to-scene/{int(storyboard)}", priority=POLL
                )
        except UpstreamError as err:
            failed = read_error(err)
            return {spec.key: failed for spec in group}
        board = _data(resp)
        scenes = {str(s.get("id")): s for s in (board.get("scenes") or []) if isinstance(s, dict)}
        out: dict[str, Result] = {}
        for spec in group:
            if spec.resource == "storyboard":
                out[spec.key] = Reading(board)
            elif spec.id in scenes:
                out[spec.key] = Reading(scenes[spec.id])
            else:
                out[spec.key] = ReadError(
                    f"scene {spec.id} is not in storyboard {storyboard}", not_found=True
                )
        return out

    # -- naming and rules (pure, in facets) -------------------------------------------------------
    def observe(self, spec: WatchSpec, snapshot: Reading) -> list[Observation]:
        return facets.observe(spec, snapshot)

    def is_terminal(self, spec: WatchSpec, observations: Sequence[Observation]) -> bool:
        return facets.is_terminal(spec, observations)

    def default_facets(self, spec: WatchSpec) -> tuple[str, ...]:
        return facets.default_facets(spec)

    def interval_bounds(self, resource: str) -> tuple[float, float]:
        return INTERVALS.get(resource, (5.0, 20.0))

    def event_subject(self, obs: Observation) -> str:
        return facets.event_subject(obs)

    def event_type(self, obs: Observation) -> str:
        return facets.event_type(obs)

    def subject_path(self, spec: WatchSpec) -> str:
        if spec.resource == "scene":
            return facets.scene_path(spec.parents.get("storyboardId"), spec.id)
        return facets.storyboard_path(spec.id)

    def project_id(self, spec: WatchSpec) -> str | None:
        return None

    def lifecycle_data(self, spec: WatchSpec) -> dict[str, Any]:
        data: dict[str, Any] = {"provider": facets.PROVIDER}
        if spec.resource == "scene":
            data["storyboardId"] = spec.parents.get("storyboardId")
        return data

    async def discover(self) -> AsyncIterator[WatchSpec]:
        """Syllaby lists no storyboards: only what the bridge was told to watch is watched."""
        found: list[WatchSpec] = []
        for spec in found:
            yield spec


def _storyboard_of(spec: WatchSpec) -> str | None:
    if spec.resource == "storyboard":
        return spec.id
    return spec.parents.get("storyboardId")


def _data(resp: Any) -> dict[str, Any]:
    raw = getattr(resp, "raw", None)
    data = raw.get("data") if isinstance(raw, dict) else None
    return data if isinstance(data, dict) else {}
