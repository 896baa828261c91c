"""One part never stalls the rest (CONTRACT.md, additions of 2026-12-06; issue 22): a route answering
503, or a provider's open circuit, with 1,000 durable commands behind it, while commands on other
routes and the other provider keep their latency; what was held runs soon after the recovery,
once each. Real nats-server, both sandboxes over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from bridge.names import COMMANDS_CONSUMER, COMMANDS_STREAM, PARKED_STREAM
from tests.fixtures.bridge import SUBJECTS, Outcomes, Recorder
from tests.fixtures.requestlog import requests_of
from tests.fixtures.syllaby_bridge import StartSyllabyBridge
from tests.fixtures.waiting import until

pytestmark = pytest.mark.slow

STUCK = 1000
# Generous: a healthy command takes a few ms; the bound only says "not stalled".
HEALTHY_BOUND_SECONDS = 5.0


class Latency:
    """Publish-to-outcome time of each command, by commandId."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.done: dict[str, float] = {}

    async def on_msg(self, msg: Msg) -> None:
        event = json.loads(msg.data)
        if event["type"].rsplit(".", 1)[1] in ("succeeded", "failed"):
            self.done.setdefault(event["data"]["commandId"], time.monotonic())

    def of(self, command_id: str) -> float:
        return self.done[command_id] - self.sent[command_id]


async def _publish(nc: NatsClient, latency: Latency, command: str, body: dict[str, Any]) -> None:
    latency.sent[body["commandId"]] = time.monotonic()
    await nc.jetstream().publish(SUBJECTS.command(command), json.dumps(body).encode())


async def _all_fetched(nc: NatsClient) -> bool:
    """Every stuck command left the commands consumer (parked or held)."""
    js = nc.jetstream()
    info = await js.consumer_info(COMMANDS_STREAM, COMMANDS_CONSUMER)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def _healthy_traffic(nc: NatsClient, latency: Latency, *, story: bool) -> list[str]:
    """Commands on a healthy Story route (optional) and on the other provider, a few each."""
    ids: list[str] = []
    for i in range(3):
        if story:
            await _publish(nc, latency, "credits.get", {"commandId": f"ok-story-{i}"})
            ids.append(f"ok-story-{i}")
        body = {"commandId": f"ok-sb-{i}", "title": f"t{i}", "mode": "wizard"}
        await _publish(nc, latency, "syllaby.storyboard.create", body)
        ids.append(f"ok-sb-{i}")
        await asyncio.sleep(0.5)
    await until(lambda: all(cid in latency.done for cid in ids), limit=60)
    return ids


def _effects(sandbox: Any) -> Counter[str]:
    """Projects the API created, per Idempotency-Key (a replay is not an effect)."""
    entries = requests_of(sandbox)
    return Counter(
        e["idempotencyKey"]
        for e in entries
        if e["method"] == "POST"
        and e["path"] == "/story-projects"
        and e["status"] == 200
        and not e["replayed"]
    )


def _stuck_posts(sandbox: Any) -> int:
    entries = requests_of(sandbox)
    return sum(1 for e in entries if e["method"] == "POST" and e["path"] == "/story-projects")


async def _streams_empty(nc: NatsClient) -> bool:
    js = nc.jetstream()
    parked = await js.stream_info(PARKED_STREAM)
    commands = await js.stream_info(COMMANDS_STREAM)
    return parked.state.messages == 0 and commands.state.messages == 0


async def test_a_route_answering_503_under_1000_commands_never_stalls_the_others(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
) -> None:
    """POST /story-projects answers 503 while 1,000 durable project.create wait: credits.get (another
    route) and Syllaby commands complete within the bound, the failing route is probed (tens of
    requests, not thousands), and after the recovery all 1,000 succeed, each with one effect."""
    await start_syllaby_bridge(
        command_retry_base_seconds=0.5,
        command_retry_max_seconds=3.0,
        retry_budget_seconds=5.0,
    )
    latency = Latency()
    await nc.subscribe(SUBJECTS.event("command.*"), cb=latency.on_msg)
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects", "method": "POST", "status": 503}]
    )
    for i in range(STUCK):
        await _publish(nc, latency, "project.create", {"commandId": f"stuck-{i}", "name": f"s{i}"})
    await until(lambda: _all_fetched(nc), limit=120)

    healthy = await _healthy_traffic(nc, latency, story=True)
    slow = {cid: round(latency.of(cid), 2) for cid in healthy}
    assert all(v <= HEALTHY_BOUND_SECONDS for v in slow.values()), slow
    assert all(outcomes.for_command(cid)[-1]["ok"] for cid in healthy)
    # Probed, not hammered: the first commands' tries, then one probe per interval (<= 3 s).
    assert _stuck_posts(sandbox) < 100, _stuck_posts(sandbox)
    assert not [cid for cid in latency.done if cid.startswith("stuck-")]

    sandbox.control.delete("/faults")
    stuck = [f"stuck-{i}" for i in range(STUCK)]
    await until(lambda: all(cid in latency.done for cid in stuck), limit=300, every=0.5)
    for cid in stuck:
        finals = outcomes.for_command(cid)
        assert len(finals) == 1 and finals[0]["ok"] is True, (cid, finals)
    effects = _effects(sandbox)
    assert len(effects) == STUCK and set(effects.values()) == {1}
    assert await until(lambda: _streams_empty(nc)) is True


async def test_an_open_circuit_holding_1000_commands_never_stalls_the_other_provider(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_key: str,
) -> None:
    """The Story key revoked: its circuit opens and holds 1,000 durable commands; Syllaby commands
    keep their latency. The key valid again: the circuit closes and the held commands run, each
    with one effect."""
    bridge = await start_syllaby_bridge(circuit_probe_seconds=2.0, command_retry_base_seconds=30)
    recorder = Recorder()
    await nc.subscribe(SUBJECTS.event("bridge.>"), cb=recorder.on_msg)
    latency = Latency()
    await nc.subscribe(SUBJECTS.event("command.*"), cb=latency.on_msg)
    _key_state(sandbox, sandbox_key, "revoked")
    for i in range(STUCK):
        await _publish(nc, latency, "project.create", {"commandId": f"held-{i}", "name": f"h{i}"})
    await until(lambda: _all_fetched(nc), limit=120)
    assert bridge.running["story"].circuit.is_open

    healthy = await _healthy_traffic(nc, latency, story=False)
    slow = {cid: round(latency.of(cid), 2) for cid in healthy}
    assert all(v <= HEALTHY_BOUND_SECONDS for v in slow.values()), slow

    _key_state(sandbox, sandbox_key, "active")
    assert await recorder.wait_for(lambda: bool(recorder.on("bridge.recovered")))
    held = [f"held-{i}" for i in range(STUCK)]
    await until(lambda: all(cid in latency.done for cid in held), limit=300, every=0.5)
    for cid in held:
        finals = outcomes.for_command(cid)
        assert len(finals) == 1 and finals[0]["ok"] is True, (cid, finals)
    effects = _effects(sandbox)
    assert len(effects) == STUCK and set(effects.values()) == {1}


async def test_a_closing_circuit_releases_held_commands_within_seconds_in_order(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_key: str,
) -> None:
    """Held by an open circuit on a retry schedule of minutes: when the probe passes, every held
    command runs within 5 s (not at its next backoff step), the oldest first.

    The bridge starts a release oldest first; requests in flight together reach the API in
    whatever order their connections serve them. With the default 32 in flight all 20 run at once
    and the API's order says little of the bridge's; with 4 (the route allowed all 4, so none
    waits for the route's share) it shows the start order to within a few places."""
    await start_syllaby_bridge(
        circuit_probe_seconds=1.0,
        command_retry_base_seconds=120,
        command_retry_max_seconds=300,
        max_in_flight=4,
        route_max_in_flight=4,
    )
    recorder = Recorder()
    await nc.subscribe(SUBJECTS.event("bridge.>"), cb=recorder.on_msg)
    latency = Latency()
    await nc.subscribe(SUBJECTS.event("command.*"), cb=latency.on_msg)
    _key_state(sandbox, sandbox_key, "revoked")
    held = [f"held-{i}" for i in range(20)]
    for i, cid in enumerate(held):
        await _publish(nc, latency, "project.create", {"commandId": cid, "name": f"h{i}"})
        await asyncio.sleep(0.05)
    await until(lambda: len([e for e in outcomes.events if "retrying" in e["type"]]) >= 20)
    await asyncio.sleep(2)  # held through a few probes

    _key_state(sandbox, sandbox_key, "active")
    assert await recorder.wait_for(lambda: bool(recorder.on("bridge.recovered")))
    recovered = time.monotonic()
    await until(lambda: all(cid in latency.done for cid in held), limit=60)
    late = {cid: round(latency.done[cid] - recovered, 2) for cid in held}
    assert max(late.values()) <= 5.0, late
    assert all(outcomes.for_command(cid)[-1]["ok"] for cid in held)
    # Arrival order: the API saw the held commands' creates in the order they were published.
    entries = requests_of(sandbox)
    creates = [
        e
        for e in entries
        if e["method"] == "POST" and e["path"] == "/story-projects" and e["status"] == 200
    ]
    names = [e["idempotencyKey"] for e in creates]
    assert len(names) == 20
    order = [_index_of(outcomes, key) for key in names]
    # Started oldest first; the four in flight may reach the API a few places apart.
    assert set(order[:5]) <= set(range(10)) and set(order[-5:]) <= set(range(10, 20)), str(order)


def _index_of(outcomes: Outcomes, idempotency_key: str) -> int:
    from bridge.commands import idempotency_key as key_of

    for i in range(20):
        if key_of("project.create", f"held-{i}") == idempotency_key:
            return i
    raise AssertionError(idempotency_key)


def _key_state(sandbox: Any, key: str, state: str) -> None:
    sandbox.control.put("/keys/state", json={"key": key, "state": state}).raise_for_status()


async def test_a_recovery_seen_by_one_replica_closes_every_replicas_circuit_at_once(
    start_bridge: Any, nc: NatsClient, outcomes: Outcomes, sandbox: Any, sandbox_key: str
) -> None:
    """Each replica probes on its own schedule; the one whose probe passes first deletes the
    circuit's key, and the others probe at once instead of holding commands up to their next
    probe (60 s here)."""
    quick = (await start_bridge(circuit_probe_seconds=1.0)).running["story"].circuit
    slow = (await start_bridge(circuit_probe_seconds=60.0)).running["story"].circuit
    _key_state(sandbox, sandbox_key, "revoked")
    # Request/reply reaches either replica (a queue group): ask until both have seen the refusal.
    for i in range(40):
        if quick.is_open and slow.is_open:
            break
        body = json.dumps({"name": f"r{i}", "commandId": f"open-{i}"}).encode()
        await nc.request(SUBJECTS.request("project.create"), body, timeout=10)
    assert slow.is_open and quick.is_open
    latency = Latency()
    await nc.subscribe(SUBJECTS.event("command.*"), cb=latency.on_msg)
    held = [f"both-{i}" for i in range(40)]
    for i, cid in enumerate(held):
        await _publish(nc, latency, "project.create", {"commandId": cid, "name": f"b{i}"})
    await until(lambda: _all_fetched(nc), limit=60)
    await asyncio.sleep(1.5)  # the slow replica's probe is now about a minute away

    _key_state(sandbox, sandbox_key, "active")
    await until(lambda: not quick.is_open, limit=10)
    recovered = time.monotonic()
    await until(lambda: not slow.is_open, limit=10)
    # Held by either replica, every command runs within seconds of the first recovery.
    await until(lambda: all(cid in latency.done for cid in held), limit=60)
    late = max(latency.done[cid] - recovered for cid in held)
    assert late <= 6.0, late


async def test_a_route_answering_again_on_one_replica_releases_every_replicas_commands(
    start_bridge: Any, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """Both replicas saw POST /story-projects fail; one probes after 1 s, the other only after
    60 s. Once the route answers, the first replica's probe passes and tells the other: every
    held command runs within seconds, each once."""
    await start_bridge(command_retry_base_seconds=1.0, command_retry_max_seconds=2.0)
    await start_bridge(
        command_retry_base_seconds=60.0,
        command_retry_max_seconds=120.0,
        route_probe_max_seconds=120.0,
    )
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects", "method": "POST", "status": 503}]
    )
    latency = Latency()
    await nc.subscribe(SUBJECTS.event("command.*"), cb=latency.on_msg)
    held = [f"route-{i}" for i in range(40)]
    for i, cid in enumerate(held):
        await _publish(nc, latency, "project.create", {"commandId": cid, "name": f"r{i}"})
    # Both replicas tried and failed (each fetched some of the first commands).
    await until(lambda: _all_fetched(nc), limit=60)
    await asyncio.sleep(2.0)

    sandbox.control.delete("/faults")
    lifted = time.monotonic()
    await until(lambda: all(cid in latency.done for cid in held), limit=120)
    late = max(latency.done[cid] - lifted for cid in held)
    assert late <= 10.0, late
    effects = _effects(sandbox)
    assert len(effects) == len(held) and set(effects.values()) == {1}
