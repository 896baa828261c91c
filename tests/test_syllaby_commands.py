"""Every Syllaby command of the contract's table answers ok through both intake paths."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from schemas.syllaby.commands import SYLLABY_COMMANDS
from tests.fixtures.bridge import Flow, Outcomes
from tests.fixtures.syllaby_bridge import StartSyllabyBridge
from tests.fixtures.syllaby_sandbox import PROMPT, SyllabyApi


def _data(result: Any) -> Any:
    """Syllaby's envelope around every answer, checked; its `data` is what the flow goes on with."""
    assert {"message", "status", "data"} <= set(result), result
    return result["data"]


@pytest.mark.parametrize("path", ["request", "durable"])
async def test_every_syllaby_command_succeeds(
    path: str,
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
) -> None:
    await start_syllaby_bridge()
    board = syllaby_api.with_clips()
    sb = board["id"]
    first, second, third = (s["id"] for s in board["scenes"][:3])
    f = Flow(nc, outcomes, path, _data)

    assert (await f.ok("syllaby.storyboard.get", {"storyboard_id": sb}))["id"] == sb
    await f.ok("syllaby.storyboard.update", {"storyboard_id": sb, "settings": {"audio": False}})
    estimate = await f.ok("syllaby.storyboard.estimate", {"storyboard_id": sb})
    assert estimate["required"] > 0
    await f.ok("syllaby.storyboard.context", {"storyboard_id": sb, "prompt": "deep sea"})
    added = await f.ok(
        "syllaby.scene.create",
        {"storyboard_id": sb, "order": 3, "raw_video_prompt": "A whale.", "duration": 4},
    )
    scene = added["id"]
    await f.ok("syllaby.scene.update", {"storyboard_id": sb, "scene_id": scene, "duration": 5})
    assert (await f.ok("syllaby.scene.status", {"storyboard_id": sb, "scene_id": scene}))["id"]
    await f.ok("syllaby.scene.sort", {"storyboard_id": sb, "scene_id": scene, "after_id": None})
    await f.ok(
        "syllaby.scene.frames",
        {"storyboard_id": sb, "scene_id": first, "first_frame_id": None, "last_frame_id": None},
    )
    await f.ok(
        "syllaby.scene.chain", {"storyboard_id": sb, "scene_id": second, "chain_scene_id": first}
    )
    await f.ok("syllaby.scene.unchain", {"storyboard_id": sb, "scene_id": second})
    await f.ok("syllaby.scene.delete", {"storyboard_id": sb, "scene_id": scene})
    await f.ok("syllaby.moodboard.upload", {"storyboard_id": sb, "prompt": "warm blues"})
    await f.ok(
        "syllaby.moodboard.generate", {"storyboard_id": sb, "prompt": "warm", "enhance": True}
    )
    await f.ok(
        "syllaby.storyboard.generate_clips",
        {"storyboard_id": sb, "scenes": [{"id": third, "enhance": True}]},
    )
    syllaby_api.advance(11.0)
    await f.ok("syllaby.storyboard.render", {"storyboard_id": sb})
    fresh = await f.ok("syllaby.storyboard.create", {"title": "fresh", "mode": "wizard"})
    await f.ok("syllaby.storyboard.generate", {"storyboard_id": fresh["id"], **PROMPT})

    assert f.seen == {m.command for m in SYLLABY_COMMANDS}
