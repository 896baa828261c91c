"""Syllaby's account-level failures open its own circuit: Syllaby's polls pause, the Story API's
watches go on; the subscription back, one recovery, and the watches finish."""

from __future__ import annotations

import json
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from bridge.sandboxes.syllaby import SyllabySandboxConfig
from tests.fixtures.bridge import SUBJECTS, Outcomes, Recorder, create_plan, send
from tests.fixtures.requestlog import requests_of
from tests.fixtures.syllaby_bridge import StartSyllabyBridge
from tests.fixtures.syllaby_sandbox import PROMPT
from tests.fixtures.waiting import until

pytestmark = pytest.mark.slow


@pytest.fixture
def syllaby_sandbox_config() -> SyllabySandboxConfig:
    # The storyboards move only when the test says, so they are surely mid-flight when it cuts.
    return SyllabySandboxConfig(manual_clock=True, rate_limit_per_minute=100_000)


def _syllaby_requests(syllaby_sandbox: Any) -> list[dict[str, Any]]:
    return requests_of(syllaby_sandbox)


async def test_subscription_off_pauses_syllaby_only_and_on_again_recovers(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_sandbox: Any,
    sandbox: Any,
) -> None:
    bridge = await start_syllaby_bridge(
        circuit_probe_seconds=0.5, stall_after_failures=2, command_retry_base_seconds=0.5
    )
    recorder = Recorder()
    await nc.subscribe(SUBJECTS.event(">"), cb=recorder.on_msg)
    created = await send(
        nc, outcomes, "request", "syllaby.storyboard.create", {"title": "t", "mode": "wizard"}
    )
    board_id = created["result"]["data"]["id"]
    generated = await send(
        nc,
        outcomes,
        "request",
        "syllaby.storyboard.generate",
        {"storyboard_id": board_id, **PROMPT},
    )
    assert generated["ok"] is True
    assert await recorder.wait_for(
        lambda: bool(recorder.on("syllaby.storyboard.generating_prompts"))
    )

    syllaby_sandbox.control.put("/subscription", json={"active": False}).raise_for_status()
    assert await recorder.wait_for(lambda: bool(recorder.on("bridge.degraded")))
    degraded = json.loads(recorder.on("bridge.degraded")[0].data)
    assert degraded["data"]["provider"] == "syllaby"
    assert degraded["data"]["code"] == "subscription_required"
    assert bridge.running["syllaby"].circuit.is_open
    assert not bridge.running["story"].circuit.is_open

    # Request/reply is answered at once with the account's code; nothing reaches Syllaby for it.
    before = len(_syllaby_requests(syllaby_sandbox))
    answer = await send(
        nc, outcomes, "request", "syllaby.storyboard.get", {"storyboard_id": board_id}
    )
    assert answer["ok"] is False
    assert answer["error"]["code"] == "subscription_required"
    assert answer["error"]["retryable"] is True

    # A durable command is held (retrying with the account's code), never failed.
    await nc.jetstream().publish(
        SUBJECTS.command("syllaby.storyboard.create"),
        b'{"title": "held", "mode": "manual", "commandId": "held-sb"}',
    )
    held = await outcomes.wait_for("held-sb", kinds=("retrying",))
    assert held[0]["error"]["code"] == "subscription_required"

    # The Story API's watches go on meanwhile: a plan is created and followed to its approval.
    project = (await send(nc, outcomes, "request", "project.create", {"name": "p"}))["result"]
    plan = (await create_plan(nc, outcomes, project["project"]["id"]))["result"]["plan"]
    assert await recorder.wait_for(
        lambda: any(
            json.loads(m.data)["data"]["id"] == plan["id"]
            for m in recorder.on("plan.requires_approval")
        )
    )

    def probes() -> list[dict[str, Any]]:
        return [
            e
            for e in _syllaby_requests(syllaby_sandbox)[before:]
            if e["path"] == "/text-to-scene/0"
        ]

    await until(lambda: len(probes()) >= 3)
    while_open = _syllaby_requests(syllaby_sandbox)[before:]
    # Only probes reach Syllaby (a poll already in flight when it opened may land too).
    assert len(while_open) <= len(probes()) + 1, [(e["method"], e["path"]) for e in while_open]

    # Generation finishes upstream while paused; once the subscription is back, the watch sees it.
    syllaby_sandbox.control.post("/clock/advance", json={"seconds": 30}).raise_for_status()
    syllaby_sandbox.control.put("/subscription", json={"active": True}).raise_for_status()
    assert await recorder.wait_for(lambda: bool(recorder.on("bridge.recovered")))
    assert await recorder.wait_for(lambda: bool(recorder.on("syllaby.storyboard.ready")))
    recovered = json.loads(recorder.on("bridge.recovered")[0].data)
    assert recovered["data"]["provider"] == "syllaby"
    assert len(recorder.on("bridge.degraded")) == 1
    assert len(recorder.on("bridge.recovered")) == 1
    assert recorder.on("watch.stalled") == []
    assert not bridge.running["syllaby"].circuit.is_open
    created_later = (await outcomes.wait_for("held-sb", timeout=60))[-1]
    assert created_later["ok"] is True, created_later
    titles = [b["title"] for b in syllaby_sandbox.control.get("/state").json()["storyboards"]]
    assert titles.count("held") == 1
