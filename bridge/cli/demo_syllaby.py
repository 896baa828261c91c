"""`storybridge demo --provider syllaby`: Syllaby's storyboard flow through NATS, narrated.

storyboard.create -> generate (wait for `ready`) -> generate_clips for every scene (wait until each
scene's clip has settled) -> render (wait for the video). Every step is a request/reply command;
every wait is for an event, as a service would do it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.client import Client as NATS
from rich.console import Console

from bridge.cli.demo_kit import EventWaiter, command
from bridge.names import Subjects

PROMPT = {
    "prompt": "A documentary about the creatures of the deep ocean.",
    "clip_engine_id": 9,
    "duration": {"min": 16, "max": 60},
}


async def walk_syllaby(
    nc: NATS, subjects: Subjects, console: Console, waiter: EventWaiter, timeout: float
) -> str:
    """Drive the flow; returns the rendered video's URL."""
    evt = f"{subjects.prefix}.evt.syllaby"
    created = await command(
        nc, subjects, console, "syllaby.storyboard.create", {"title": "Deep sea", "mode": "wizard"}
    )
    board_id = created["data"]["id"]
    await command(
        nc, subjects, console, "syllaby.storyboard.generate", {"storyboard_id": board_id, **PROMPT}
    )
    await waiter.wait_for(f"{evt}.storyboard.ready", str(board_id), timeout)
    board = await command(
        nc, subjects, console, "syllaby.storyboard.get", {"storyboard_id": board_id}
    )
    scenes = [scene["id"] for scene in board["data"]["scenes"]]
    clips = {"storyboard_id": board_id, "scenes": [{"id": s, "enhance": False} for s in scenes]}
    await command(nc, subjects, console, "syllaby.storyboard.generate_clips", clips)
    await asyncio.gather(
        *(waiter.wait_for(f"{evt}.scene.clip_completed", str(s), timeout) for s in scenes)
    )
    await command(nc, subjects, console, "syllaby.storyboard.render", {"storyboard_id": board_id})
    done = await waiter.wait_for(f"{evt}.storyboard.video.completed", str(board_id), timeout)
    video: dict[str, Any] = done["data"]["snapshot"].get("video") or {}
    return str(video.get("url"))
