"""`POST /api/share/table-read/start-live` (concepts): outside `/api/v1`, authorized by the share
token in the body (not an API key), answers the Daily room the live read plays in."""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.core import StoryCall, StoryEndpoint
from schemas.story.requests_publishing import StartLive

SHARE_PREFIX = "/api/share"


async def start_live(call: StoryCall) -> dict[str, Any]:
    return call.world.artifacts.start_live(call.body_as(StartLive).token)


ENDPOINTS: list[StoryEndpoint] = [
    StoryEndpoint("POST", "/table-read/start-live", start_live, None, "none"),
]
