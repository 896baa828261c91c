"""The whole Syllaby flow through NATS: create -> generate -> clips for every scene -> render.

Real nats-server, both sandboxes over HTTP. The events are the contract's: subjects, types,
sources, CloudEvent subjects and `data`; previousStatus chains unbroken; no id twice; no video
event before the render command.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from bridge.sandboxes.syllaby import SyllabySandboxConfig
from schemas.contract import event_model
from tests.fixtures.bridge import Outcomes, send
from tests.fixtures.syllaby_bridge import EventLog, StartSyllabyBridge
from tests.fixtures.syllaby_sandbox import PROMPT

PATHS = ("request", "durable")


@pytest.fixture
def syllaby_sandbox_config() -> SyllabySandboxConfig:
    """x10, not the suite's x100: a poller publishes only the states it sees, and at x100 a
    render's `processing` lasts 0.1 s, which a loaded CI machine has let pass unseen while the
    render command itself was being answered. At x10 each state outlasts several polls."""
    return SyllabySandboxConfig(speed=10.0, rate_limit_per_minute=100_000)


@pytest.fixture(autouse=True)
def no_token_anywhere(
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    syllaby_token: str,
    syllaby_events: EventLog,
    outcomes: Outcomes,
) -> Iterator[None]:
    """Logs, events and outcome documents never hold the token, while the logs name it by hash."""
    yield
    out, err = capfd.readouterr()
    secret = syllaby_token.split("|", 1)[1]
    texts = [
        out,
        err,
        caplog.text,
        json.dumps(syllaby_events.messages),
        json.dumps(outcomes.events),
    ]
    assert syllaby_events.messages and outcomes.events  # there was something to search
    assert all(secret not in text for text in texts)
    assert "syllaby:" in out + err + caplog.text


def _of(events: EventLog, suffix: str) -> list[dict[str, Any]]:
    return [e for s, e in events.syllaby() if s == f"story.evt.syllaby.{suffix}"]


def _seen(events: EventLog, suffix: str) -> bool:
    return bool(_of(events, suffix))


@pytest.mark.parametrize("path", PATHS)
async def test_create_generate_clips_render_publishes_the_contracts_events(
    path: str,
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_events: EventLog,
    syllaby_sandbox: Any,
) -> None:
    """Every step answers ok; every status change of the storyboard, its scenes and (after the
    render) its video is one CloudEvent with the contract's names."""
    await start_syllaby_bridge()
    base = syllaby_sandbox.base_url
    created = await send(
        nc, outcomes, path, "syllaby.storyboard.create", {"title": "Deep sea", "mode": "wizard"}
    )
    assert created["ok"] is True, created
    assert created["status"] == 201
    assert set(created["result"]) >= {"message", "status", "data"}  # the API's whole envelope
    board_id = created["result"]["data"]["id"]

    generated = await send(
        nc, outcomes, path, "syllaby.storyboard.generate", {"storyboard_id": board_id, **PROMPT}
    )
    assert generated["ok"] is True and generated["status"] == 202, generated
    await syllaby_events.wait_for(lambda: _seen(syllaby_events, "storyboard.ready"))

    read = await send(nc, outcomes, path, "syllaby.storyboard.get", {"storyboard_id": board_id})
    scenes = [s["id"] for s in read["result"]["data"]["scenes"]]
    assert scenes
    clips = await send(
        nc,
        outcomes,
        path,
        "syllaby.storyboard.generate_clips",
        {"storyboard_id": board_id, "scenes": [{"id": s, "enhance": False} for s in scenes]},
    )
    assert clips["ok"] is True, clips
    await syllaby_events.wait_for(
        lambda: len(_of(syllaby_events, "scene.clip_completed")) == len(scenes)
    )
    assert not [s for s, _ in syllaby_events.syllaby() if ".storyboard.video." in s]

    before_render = len(syllaby_events.messages)
    rendered = await send(
        nc, outcomes, path, "syllaby.storyboard.render", {"storyboard_id": board_id}
    )
    assert rendered["ok"] is True, rendered
    assert rendered["result"]["meta"]["credits"]["cost"] > 0  # render's meta.credits kept
    await syllaby_events.wait_for(lambda: _seen(syllaby_events, "storyboard.video.completed"))

    # No video event before the render command.
    first_video = next(
        i for i, (s, _, _) in enumerate(syllaby_events.messages) if ".storyboard.video." in s
    )
    assert first_video >= before_render

    board_events = [e for s, e in syllaby_events.syllaby() if ".storyboard." in s]
    for subject, event in syllaby_events.syllaby():
        data = event["data"]
        event_model(subject.removeprefix("story.evt.")).model_validate(event)  # the typed contract
        assert event["specversion"] == "1.0"
        assert event["source"] == base
        assert event["type"] == "io.syllaby." + subject.removeprefix("story.evt.syllaby.")
        assert data["provider"] == "syllaby"
        token = data["status"].lower().replace(":", "_")
        assert subject.endswith("." + token)  # data.status keeps the API's value
        if data["resource"] == "scene":
            assert data["storyboardId"] == str(board_id)
            assert event["subject"] == f"text-to-scene/{board_id}/scenes/{data['id']}"
        else:
            assert data["id"] == str(board_id)
            assert event["subject"] == f"text-to-scene/{board_id}"
    # The render re-arms the storyboard's record: its status goes on beside the new video facet.
    assert [e["data"]["status"] for e in board_events if e["data"].get("facet") is None] == [
        "wizard",
        "generating:prompts",
        "generating:images",
        "ready",
        "processing",
        "completed",
    ]
    video = [e["data"] for e in board_events if e["data"].get("facet") == "video"]
    assert [v["status"] for v in video] == ["rendering", "completed"]
    assert video[-1]["snapshot"]["video"]["url"]
    assert all(v["resource"] == "storyboard" for v in video)

    # previousStatus chains, per resource + facet.
    chains: dict[tuple[str, str, str | None], list[dict[str, Any]]] = {}
    for _, event in syllaby_events.syllaby():
        d = event["data"]
        chains.setdefault((d["resource"], d["id"], d.get("facet")), []).append(d)
    for key, chain in chains.items():
        assert chain[0]["previousStatus"] is None, key
        for prev, nxt in itertools.pairwise(chain):
            assert nxt["previousStatus"] == prev["status"], key
    for scene in scenes:
        statuses = [d["status"] for d in chains[("scene", str(scene), None)]]
        # Polls may miss the short queued phase; what is seen comes in the API's order.
        order = ["draft", "clip:queued", "clip:generating", "clip:completed"]
        assert statuses[-1] == "clip:completed"
        assert statuses == sorted(statuses, key=order.index)

    ids = [h.get("Nats-Msg-Id") for _, _, h in syllaby_events.messages]
    assert len(ids) == len(set(ids))
    assert all(h.get("Nats-Msg-Id") == e["id"] for _, e, h in syllaby_events.messages)
