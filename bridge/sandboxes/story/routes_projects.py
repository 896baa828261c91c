"""Project endpoints and the project documents (series bible, cast canon)."""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.core import StoryCall, StoryEndpoint
from schemas.story import requests as q


async def create_project(call: StoryCall) -> dict[str, Any]:
    req = call.body_as(q.ProjectCreate)
    return {"project": call.world.projects.create(req.model_dump(mode="json"))}


async def list_projects(call: StoryCall) -> dict[str, Any]:
    projects, cursor = call.world.projects.page(call.query)
    return {"projects": projects, "nextCursor": cursor}


async def get_project(call: StoryCall) -> dict[str, Any]:
    return {"project": call.world.projects.get(call.params["projectId"])}


async def update_project(call: StoryCall) -> dict[str, Any]:
    req = call.body_as(q.ProjectUpdate, optional=True)
    changes = req.model_dump(mode="json", exclude_unset=True)
    return {"project": call.world.projects.update(call.params["projectId"], changes)}


async def delete_project(call: StoryCall) -> dict[str, Any]:
    return call.world.projects.delete(call.params["projectId"])


def _document_routes(path: str, kind: str, generate: bool) -> list[StoryEndpoint]:
    async def read(call: StoryCall) -> dict[str, Any]:
        return {"document": call.world.documents.get(call.params["projectId"], kind)}

    async def post(call: StoryCall) -> dict[str, Any]:
        req = call.body_as(q.SeriesBibleGenerate, optional=True)
        doc = call.world.documents.generate(call.params["projectId"], kind, req.instructions)
        return {"document": doc}

    async def patch(call: StoryCall) -> dict[str, Any]:
        req = call.body_as(q.SeriesBibleUpdate, optional=True)
        doc = call.world.documents.patch(call.params["projectId"], kind, req.title, req.content)
        return {"document": doc}

    routes = [
        StoryEndpoint("GET", path, read, "story:read"),
        StoryEndpoint("PATCH", path, patch, "story:write", "optional"),
    ]
    if generate:
        routes.append(StoryEndpoint("POST", path, post, "story:write", "required"))
    return routes


ENDPOINTS: list[StoryEndpoint] = [
    StoryEndpoint("POST", "/story-projects", create_project, "story:write", "required"),
    StoryEndpoint("GET", "/story-projects", list_projects, "story:read"),
    StoryEndpoint("GET", "/story-projects/{projectId}", get_project, "story:read"),
    StoryEndpoint(
        "PATCH", "/story-projects/{projectId}", update_project, "story:write", "optional"
    ),
    StoryEndpoint(
        "DELETE", "/story-projects/{projectId}", delete_project, "story:write", "optional"
    ),
    *_document_routes("/story-projects/{projectId}/series-bible", "series_bible", True),
    *_document_routes("/story-projects/{projectId}/cast-canon", "cast_canon", False),
]
