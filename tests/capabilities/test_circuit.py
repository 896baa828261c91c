"""Account-level failures open that provider's circuit (CONTRACT.md, additions of 2026-12-01):
told once, its API left alone but for the probe, its commands held as retryable, its watches kept;
the other providers go on; the account back, one recovery, and everything held completes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.capabilities.kit import PROVIDERS, Profile, World, profile_for, statuses
from tests.fixtures.bridge import SUBJECTS, send
from tests.fixtures.requestlog import requests_of
from tests.fixtures.waiting import until

pytestmark = pytest.mark.slow


def _bridge_events(world: World, kind: str) -> list[dict[str, Any]]:
    subject = SUBJECTS.event(f"bridge.{kind}")
    return [json.loads(m.data) for m in world.events.messages if m.subject == subject]


async def test_an_account_fault_opens_one_circuit_and_its_end_closes_it(
    provider: Profile, world: World
) -> None:
    bridge = await world.start_bridge(
        circuit_probe_seconds=0.5, stall_after_failures=2, command_retry_base_seconds=0.5
    )
    others = [profile_for(name) for name in PROVIDERS if name != provider.name]
    _, watched = await provider.make(world, "request", "watched")
    await until(lambda: provider.events_of(world, watched))  # mid-flight: the clock stands still
    # Made before the fault: what a payload needs upstream cannot be made while it lasts.
    held_payload = {**provider.prepare(world, "held"), "commandId": f"held-{provider.name}"}
    refused_payload = provider.prepare(world, "refused")

    provider.break_account(world)
    # Whatever reaches the API first (a poll of the watch) opens it; no command is needed.
    await until(lambda: _bridge_events(world, "degraded"))
    degraded = _bridge_events(world, "degraded")[0]
    assert degraded["type"] == "studio.sleeperhit.story.bridge.degraded"
    assert degraded["data"]["provider"] == provider.name
    assert degraded["data"]["code"] == provider.account_code
    assert degraded["data"]["since"].endswith("Z")
    assert bridge.running[provider.name].circuit.is_open
    assert not any(bridge.running[o.name].circuit.is_open for o in others)

    sandbox = provider.sandbox(world)
    before = len(requests_of(sandbox))
    # Request/reply is answered at once with the account's code, without a call.
    refused = await send(world.nc, world.outcomes, "request", provider.command, refused_payload)
    assert refused["ok"] is False
    assert refused["error"]["code"] == provider.account_code
    assert refused["error"]["retryable"] is True
    # A durable command is held (retrying with the account's code), never failed.
    await world.nc.jetstream().publish(
        SUBJECTS.command(provider.command), json.dumps(held_payload).encode()
    )
    held = await world.outcomes.wait_for(held_payload["commandId"], kinds=("retrying",))
    assert held[0]["error"]["code"] == provider.account_code

    # The other providers go on meanwhile, commands and watches alike, to the watch's end.
    for other in others:
        _, theirs = await other.make(world, "request", f"while-{provider.name}-is-down")
        await until(lambda o=other, r=theirs: o.events_of(world, r))
        other.finish(world)
        await until(lambda o=other, r=theirs: o.final_status in statuses(o.events_of(world, r)))

    def probes() -> list[dict[str, Any]]:
        return [e for e in requests_of(sandbox)[before:] if e["path"] == provider.probe_path]

    await until(lambda: len(probes()) >= 3)
    while_open = requests_of(sandbox)[before:]
    # Only probes reach the API (a poll or two in flight when it opened may land too).
    assert len(while_open) <= len(probes()) + 2, [(e["method"], e["path"]) for e in while_open]
    assert not [e for e in while_open if e["method"] == "POST"]

    # The watched resource finishes upstream while paused; once back, the watch sees it.
    provider.finish(world)
    provider.mend_account(world)
    await until(lambda: _bridge_events(world, "recovered"), limit=60)
    recovered = _bridge_events(world, "recovered")[0]
    assert recovered["data"]["provider"] == provider.name
    await until(lambda: provider.final_status in statuses(provider.events_of(world, watched)))
    done = (await world.outcomes.wait_for(held_payload["commandId"], timeout=60))[-1]
    assert done["ok"] is True, done
    assert provider.effects(world, held_payload) == 1
    assert len(_bridge_events(world, "degraded")) == 1
    assert len(_bridge_events(world, "recovered")) == 1
    assert world.events.on("watch.stalled") == []
    assert not bridge.running[provider.name].circuit.is_open
