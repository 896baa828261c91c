"""`storybridge demo --provider syllaby` walks create -> generate -> clips -> render to a video."""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from rich.console import Console

from bridge.cli.demo_kit import EventWaiter, Session
from bridge.providers.syllaby.demo import walk_syllaby
from tests.fixtures.bridge import SUBJECTS
from tests.fixtures.syllaby_bridge import StartSyllabyBridge


async def test_the_syllaby_demo_ends_with_a_rendered_video(
    start_syllaby_bridge: StartSyllabyBridge, nc: NatsClient
) -> None:
    await start_syllaby_bridge()
    console = Console(record=True, width=200)
    waiter = EventWaiter(console)
    await nc.subscribe(SUBJECTS.event(">"), cb=waiter.on_msg)
    url = await walk_syllaby(Session(nc, SUBJECTS, console, waiter, 60))
    assert url.startswith("https://")
    printed = console.export_text()
    for seen in ("syllaby.storyboard.ready", "syllaby.scene.clip_completed", "video.completed"):
        assert seen in printed  # every event was printed
