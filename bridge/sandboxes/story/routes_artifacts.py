"""Artifact endpoints: read (with ?revision=N) and every post-creation operation on a table read."""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.core import StoryCall, StoryEndpoint
from schemas.story import requests as q

BASE = "/artifacts/{artifactId}"


def _id(call: StoryCall) -> str:
    return call.params["artifactId"]


async def get_artifact(call: StoryCall) -> dict[str, Any]:
    return {"artifact": call.world.artifacts.get(_id(call), call.query.get("revision"))}


async def refine(call: StoryCall) -> dict[str, Any]:
    return {"storyJob": call.world.jobs.refine(_id(call), call.body_as(q.ArtifactRefine))}


async def finalize(call: StoryCall) -> dict[str, Any]:
    req = call.body_as(q.ArtifactFinalize, optional=True)
    if req.mode is not None and req.mode.value == "video":
        video = call.world.renders.render_video(_id(call))
        return {"artifactId": _id(call), "mode": "video", "finalize": {"status": video["status"]}}
    return call.world.renders.finalize_audio(_id(call))


async def render_video(call: StoryCall) -> dict[str, Any]:
    return {"artifactId": _id(call), "render": call.world.renders.render_video(_id(call))}


async def voice(call: StoryCall) -> dict[str, Any]:
    return call.world.cast.set_voice(_id(call), call.body_as(q.ArtifactVoice))


async def post_coverage(call: StoryCall) -> dict[str, Any]:
    req = call.body_as(q.ArtifactCoverage, optional=True)
    return call.world.coverage.start(_id(call), req.focusPrompt)


async def get_coverage(call: StoryCall) -> dict[str, Any]:
    return {"coverage": call.world.coverage.get(_id(call), call.query.get("reportId"))}


async def post_music(call: StoryCall) -> dict[str, Any]:
    return call.world.music.post(_id(call), call.body_as(q.ArtifactMusic, optional=True))


async def get_music(call: StoryCall) -> dict[str, Any]:
    return {"music": call.world.music.get(_id(call))}


async def post_sfx(call: StoryCall) -> dict[str, Any]:
    return call.world.sfx.post(_id(call), call.body_as(q.ArtifactSfx))


async def get_sfx(call: StoryCall) -> dict[str, Any]:
    return {"sfx": call.world.sfx.get(_id(call))}


async def get_cast(call: StoryCall) -> dict[str, Any]:
    return call.world.cast.get(_id(call))


async def post_cast(call: StoryCall) -> dict[str, Any]:
    req = call.body_as(q.ArtifactCast)
    entries = [e.model_dump(mode="json", exclude_none=True) for e in req.entries or []]
    return call.world.cast.recast(_id(call), req.avatarStyle, entries)


async def post_avatar(call: StoryCall) -> dict[str, Any]:
    req = call.body_as(q.ArtifactAvatar)
    return call.world.cast.queue_avatar(_id(call), req.character, req.style)


async def voice_modification(call: StoryCall) -> dict[str, Any]:
    return call.world.script.modify_voice(_id(call), call.body_as(q.ArtifactVoiceModification))


async def get_script(call: StoryCall) -> dict[str, Any]:
    return {"script": call.world.script.get(_id(call), call.query)}


READ, PUBLISH = "artifact:read", "artifact:publish"
ENDPOINTS: list[StoryEndpoint] = [
    StoryEndpoint("GET", BASE, get_artifact, READ),
    StoryEndpoint("POST", BASE + "/refine", refine, PUBLISH, "required"),
    StoryEndpoint("POST", BASE + "/finalize", finalize, PUBLISH, "required"),
    StoryEndpoint("POST", BASE + "/render-video", render_video, PUBLISH, "required"),
    StoryEndpoint("POST", BASE + "/voice", voice, PUBLISH, "required"),
    StoryEndpoint("POST", BASE + "/coverage", post_coverage, "story:write", "required"),
    StoryEndpoint("GET", BASE + "/coverage", get_coverage, READ),
    StoryEndpoint("POST", BASE + "/music", post_music, PUBLISH, "optional"),
    StoryEndpoint("GET", BASE + "/music", get_music, READ),
    StoryEndpoint("POST", BASE + "/sfx", post_sfx, PUBLISH, "required"),
    StoryEndpoint("GET", BASE + "/sfx", get_sfx, READ),
    StoryEndpoint("GET", BASE + "/cast", get_cast, READ),
    StoryEndpoint("POST", BASE + "/cast", post_cast, PUBLISH, "required"),
    StoryEndpoint("POST", BASE + "/avatar", post_avatar, PUBLISH, "required"),
    StoryEndpoint("POST", BASE + "/voice-modification", voice_modification, PUBLISH, "required"),
    StoryEndpoint("GET", BASE + "/script", get_script, READ),
]
