"""What a command's handler may do with watches: served by the watch engine (`EngineWatches`),
and remembered for the command ledger (`RecordingWatches`)."""

from __future__ import annotations

from typing import Any, Unpack

from bridge.ops.tracing import current_trace
from bridge.watch import WatchEngine, WatchSpec
from handlers.base import Watches, WatchFilter, WatchOptions, WatchStartFailed


class EngineWatches:
    """The handlers' `Watches` on the watch engine (a resource is the Story API's unless `provider` says)."""

    provider = "story"

    def __init__(self, engine: WatchEngine) -> None:
        self.engine = engine

    async def watch(self, resource: str, id: str, **options: Unpack[WatchOptions]) -> None:
        parents = dict(options.get("parents") or {})
        project_id = options.get("project_id")
        if project_id:
            parents["projectId"] = project_id
        spec = WatchSpec(
            provider=options.get("provider") or self.provider,
            resource=resource,
            id=str(id),
            parents=parents,
            facets=options.get("facets"),
            origin="command",
            trace=current_trace(),  # the command's trace, continued by the watch's events
        )
        try:
            await self.engine.add(spec)
        except Exception as err:
            raise WatchStartFailed(f"watch of {resource} {id} not recorded: {err!r}") from err

    async def unwatch(self, resource: str, id: str, *, provider: str | None = None) -> bool:
        return bool(await self.engine.remove(provider or self.provider, resource, str(id)))

    async def list(self, **filters: Unpack[WatchFilter]) -> tuple[list[dict[str, Any]], str | None]:
        return await self.engine.list_watches(**filters)


class RecordingWatches:
    """The handler's `Watches`, remembering every watch it started (kept with a ledger outcome,
    so a replay re-arms them)."""

    def __init__(self, inner: Watches) -> None:
        self.inner = inner
        self.calls: list[dict[str, Any]] = []

    async def watch(self, resource: str, id: str, **options: Unpack[WatchOptions]) -> None:
        given = {k: v for k, v in options.items() if v is not None}
        self.calls.append({"resource": resource, "id": id, **given})
        await self.inner.watch(resource, id, **options)

    async def unwatch(self, resource: str, id: str, *, provider: str | None = None) -> bool:
        return await self.inner.unwatch(resource, id, provider=provider)

    async def list(self, **filters: Unpack[WatchFilter]) -> tuple[list[dict[str, Any]], str | None]:
        return await self.inner.list(**filters)
