"""`storybridge demo --provider syllaby`: Syllaby's storyboard flow through NATS, narrated.

storyboard.create -> generate (wait for `ready`) -> generate_clips for every scene (wait until each
scene's clip has settled) -> render (wait for the video). Every step is a request/reply command;
every wait is for an event, as a service would do it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bridge.plugins import Demo, DemoSession

PROMPT = {
    "prompt": "A documentary about the creatures of the deep ocean.",
    "clip_engine_id": 9,
    "duration": {"min": 16, "max": 60},
}


async def walk_syllaby(session: DemoSession) -> str:
    """Drive the flow; returns the rendered video's URL."""
    created = await session.command(
        "syllaby.storyboard.create", {"title": "Deep sea", "mode": "wizard"}
    )
    board_id = created["data"]["id"]
    await session.command("syllaby.storyboard.generate", {"storyboard_id": board_id, **PROMPT})
    await session.event("syllaby.storyboard.ready", str(board_id))
    board = await session.command("syllaby.storyboard.get", {"storyboard_id": board_id})
    scenes = [scene["id"] for scene in board["data"]["scenes"]]
    clips = {"storyboard_id": board_id, "scenes": [{"id": s, "enhance": False} for s in scenes]}
    await session.command("syllaby.storyboard.generate_clips", clips)
    await asyncio.gather(*(session.event("syllaby.scene.clip_completed", str(s)) for s in scenes))
    await session.command("syllaby.storyboard.render", {"storyboard_id": board_id})
    done = await session.event("syllaby.storyboard.video.completed", str(board_id))
    video: dict[str, Any] = done["data"]["snapshot"].get("video") or {}
    return str(video.get("url"))


DEMO = Demo(
    what="Syllaby sandbox",
    final="Video",
    walk=walk_syllaby,
)
