"""Source endpoints: attach, list, read, soft delete."""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.core import StoryCall, StoryEndpoint
from schemas.story import requests as q

BASE = "/story-projects/{projectId}/sources"


async def create_source(call: StoryCall) -> dict[str, Any]:
    world = call.world
    project_id = call.params["projectId"]
    world.projects.get(project_id)  # project_not_found before any body check
    world.sources.precheck(call.body)  # type and size codes before the model's validation_failed
    req = call.body_as(q.SourceCreate)
    return {"source": world.sources.create(project_id, req)}


async def list_sources(call: StoryCall) -> dict[str, Any]:
    sources, cursor = call.world.sources.page(call.params["projectId"], call.query)
    return {"sources": sources, "nextCursor": cursor}


async def get_source(call: StoryCall) -> dict[str, Any]:
    return {"source": call.world.sources.get(call.params["projectId"], call.params["sourceId"])}


async def delete_source(call: StoryCall) -> dict[str, Any]:
    return call.world.sources.delete(call.params["projectId"], call.params["sourceId"])


ENDPOINTS: list[StoryEndpoint] = [
    StoryEndpoint("POST", BASE, create_source, "source:write", "optional"),
    StoryEndpoint("GET", BASE, list_sources, "source:read"),
    StoryEndpoint("GET", BASE + "/{sourceId}", get_source, "source:read"),
    StoryEndpoint("DELETE", BASE + "/{sourceId}", delete_source, "source:write", "optional"),
]
