"""Discovery and account endpoints: capabilities, credits, the OpenAPI stub, the examples catalog."""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.core import StoryCall, StoryEndpoint


async def capabilities(call: StoryCall) -> dict[str, Any]:
    return call.world.account.capabilities()


async def credits(call: StoryCall) -> dict[str, Any]:
    return {"credits": call.world.account.credits()}


def _operations() -> dict[str, Any]:
    # Imported late: the route modules import this one only through the app.
    from bridge.sandboxes.story import (
        routes_artifacts,
        routes_jobs,
        routes_plans,
        routes_projects,
        routes_publishing,
        routes_sources,
    )

    paths: dict[str, Any] = {}
    for module in (
        routes_projects,
        routes_sources,
        routes_plans,
        routes_jobs,
        routes_artifacts,
        routes_publishing,
    ):
        for ep in module.ENDPOINTS:
            paths.setdefault(ep.path, {})[ep.method.lower()] = {
                "operationId": ep.handler.__name__,
                "security": [{"bearer": [ep.scope]}] if ep.scope else [],
                "x-idempotency": ep.idempotency,
            }
    return paths


async def openapi(call: StoryCall) -> dict[str, Any]:
    """A small stub: the operations the sandbox serves, with scope and idempotency per operation."""
    paths = _operations()
    for path, method, name, scope in (
        ("/capabilities", "get", "capabilities", "story:read"),
        ("/credits", "get", "credits", "credits:read"),
    ):
        paths[path] = {method: {"operationId": name, "security": [{"bearer": [scope]}]}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sleeper Hit Studio Story API (sandbox)", "version": "v1"},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
    }


EXAMPLE_IDS = (
    ("discover-capabilities", "GET", "/capabilities"),
    ("check-credits", "GET", "/credits"),
    ("create-project-and-attach-text-source", "POST", "/story-projects"),
    ("generate-story-plan", "POST", "/story-projects/{projectId}/story-plans"),
    ("generate-table-read", "POST", "/story-jobs"),
    ("refine-table-read", "POST", "/artifacts/{artifactId}/refine"),
    ("finalize-audio-mp3", "POST", "/artifacts/{artifactId}/finalize"),
)


async def examples(call: StoryCall) -> dict[str, Any]:
    return {
        "version": "v1",
        "baseUrl": "/api/v1",
        "examples": [
            {
                "id": example_id,
                "status": "available",
                "steps": [{"request": {"method": method, "path": path}}],
            }
            for example_id, method, path in EXAMPLE_IDS
        ],
    }


async def agent_guidance(call: StoryCall) -> dict[str, Any]:
    return call.world.account.guidance()


ENDPOINTS: list[StoryEndpoint] = [
    StoryEndpoint("GET", "/capabilities", capabilities, "story:read"),
    StoryEndpoint("GET", "/credits", credits, "credits:read"),
    StoryEndpoint("GET", "/openapi.json", openapi, None),
    StoryEndpoint("GET", "/examples", examples, None),
    StoryEndpoint("GET", "/agent-guidance", agent_guidance, "story:read"),
]
