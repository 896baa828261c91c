"""`storybridge demo --provider echo`: create a thing, wait for it to be ready."""

from __future__ import annotations

from bridge.plugins import Demo, DemoSession


async def walk(session: DemoSession) -> str:
    thing = await session.command("echo.thing.create", {"name": "demo"})
    ready = await session.event("echo.thing.ready", str(thing["id"]))
    return str(ready["data"]["id"])


DEMO = Demo(what="Echo sandbox", final="Thing", walk=walk)
