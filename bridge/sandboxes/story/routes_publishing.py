"""Publishing releases (FIELD-NOTES: live, undocumented): create, describe, publish, list, media."""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.core import StoryCall, StoryEndpoint
from schemas.story import requests_publishing as p

SERIES = "/publishing-series/{seriesId}/releases"
RELEASE = "/publishing-releases/{releaseId}"


def _id(call: StoryCall) -> str:
    return call.params["releaseId"]


async def create_release(call: StoryCall) -> dict[str, Any]:
    req = call.body_as(p.ReleaseCreate)
    return {"release": call.world.releases.create(call.params["seriesId"], req)}


async def list_releases(call: StoryCall) -> dict[str, Any]:
    releases, cursor = call.world.releases.page(call.params["seriesId"], call.query)
    return {"releases": releases, "nextCursor": cursor}


async def describe_release(call: StoryCall) -> dict[str, Any]:
    req = call.body_as(p.ReleaseDescribe, optional=True)
    return {"release": call.world.releases.describe(_id(call), req.direction)}


async def publish_release(call: StoryCall) -> dict[str, Any]:
    call.body_as(p.ReleasePublish, optional=True)
    return {"release": call.world.releases.publish(_id(call))}


async def refresh_media(call: StoryCall) -> dict[str, Any]:
    req = call.body_as(p.ReleaseRefreshMedia)
    return {"release": call.world.releases.refresh_media(_id(call), req.sourceArtifactId)}


WRITE = "story:write"
ENDPOINTS: list[StoryEndpoint] = [
    StoryEndpoint("POST", SERIES, create_release, WRITE, "required"),
    StoryEndpoint("GET", SERIES, list_releases, "story:read"),
    StoryEndpoint("POST", RELEASE + "/description/generate", describe_release, WRITE, "required"),
    StoryEndpoint("POST", RELEASE + "/publish", publish_release, "artifact:publish", "required"),
    StoryEndpoint("POST", RELEASE + "/refresh-media", refresh_media, WRITE, "required"),
]
