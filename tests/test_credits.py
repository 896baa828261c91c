"""Credits: the balance gauge follows GET /credits; one credits.low per episode, across replicas."""

from __future__ import annotations

import json
from typing import Any

from nats.aio.client import Client as NatsClient

from bridge.ops.metrics import Metrics
from bridge.runtime import Bridge
from tests.fixtures.bridge import SUBJECTS, Recorder, StartBridge
from tests.fixtures.waiting import until

THRESHOLD = 100


def _set_balance(sandbox: Any, balance: int) -> None:
    sandbox.control.put("/credits", json={"balance": balance}).raise_for_status()


async def _rounds_pass(bridges: list[Bridge], more: int = 3) -> None:
    """Until every replica has checked the balance `more` more times (nothing else would come)."""
    monitors = [b.running["story"].credits for b in bridges]
    marks = [m.rounds for m in monitors if m is not None]
    await until(
        lambda: all(
            b.running["story"].credits is not None and b.running["story"].credits.rounds >= m + more
            for b, m in zip(bridges, marks, strict=True)
        )
    )


async def test_the_gauge_follows_the_balance(start_bridge: StartBridge, sandbox: Any) -> None:
    bridge = await start_bridge(credits_interval_seconds=0.05)
    assert bridge.running["story"].credits is not None
    bridge.running["story"].credits.metrics = metrics = Metrics(process=False)
    # Not read yet by this registry: 0, and the timestamp says so (the credits alert needs it).
    assert metrics.credits_checked_timestamp_seconds._value.get() == 0
    _set_balance(sandbox, 777)
    await until(lambda: metrics.credits_balance._value.get() == 777)
    assert metrics.credits_checked_timestamp_seconds._value.get() > 0


async def test_one_low_event_per_episode_across_two_replicas(
    start_bridge: StartBridge, sandbox: Any, nc: NatsClient
) -> None:
    """Below the threshold: one credits.low from two replicas; staying low: no more; back above
    and below again: a second one, with another id."""
    bridges = [
        await start_bridge(credits_interval_seconds=0.05, credits_low_threshold=THRESHOLD)
        for _ in range(2)
    ]
    recorder = Recorder()  # what STORYBRIDGE_EVENTS holds, from its first message
    await nc.jetstream().subscribe(
        SUBJECTS.event("credits.>"), cb=recorder.on_msg, ordered_consumer=True
    )
    await _rounds_pass(bridges)
    assert recorder.messages == []  # the sandbox starts well above the threshold

    _set_balance(sandbox, 40)
    assert await recorder.wait_for(lambda: len(recorder.messages) >= 1)
    await _rounds_pass(bridges)
    assert len(recorder.messages) == 1
    first = json.loads(recorder.messages[0].data)
    assert recorder.messages[0].subject == SUBJECTS.event("credits.low")
    assert first["type"] == "studio.sleeperhit.story.credits.low"
    assert first["data"] == {"balance": 40, "threshold": THRESHOLD}

    _set_balance(sandbox, 500)
    await _rounds_pass(bridges)
    _set_balance(sandbox, 30)
    assert await recorder.wait_for(lambda: len(recorder.messages) >= 2)
    await _rounds_pass(bridges)
    assert len(recorder.messages) == 2
    second = json.loads(recorder.messages[1].data)
    assert second["data"]["balance"] == 30 and second["id"] != first["id"]
