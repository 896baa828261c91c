"""NATS stops and starts again under a running bridge (same port, same store): readiness tells the
truth, and both intake paths answer afterwards without restarting the bridge."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import ServiceUnavailableError

from bridge.nats.embedded import EmbeddedNats
from bridge.nats.intake import DurableIntake
from bridge.runtime import Bridge
from tests.fixtures.bridge import SUBJECTS, Outcomes, StartBridge, send
from tests.fixtures.requestlog import requests_of
from tests.fixtures.waiting import until
from tests.test_no_command_lost import _commands_gone, _projects_named

pytestmark = pytest.mark.slow


async def _ready(bridge: Bridge) -> bool:
    return (await bridge.ready())[0]


async def _down_for(bridge: Bridge, nats_server: EmbeddedNats, seconds: float) -> list[bool]:
    """Stop the server for `seconds`, sampling readiness meanwhile; start it again."""
    nats_server.stop()
    samples: list[bool] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        samples.append(await _ready(bridge))
        await asyncio.sleep(0.25)
    nats_server.start()
    return samples


async def _still_serves(nc: NatsClient, outcomes: Outcomes, tag: str) -> None:
    for path in ("request", "durable"):
        outcome = await send(
            nc, outcomes, path, "project.create", {"name": f"{tag}-{path}"}, timeout=60
        )
        assert outcome["ok"] is True, outcome


async def test_a_nats_restart_under_an_idle_bridge(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, nats_server: EmbeddedNats
) -> None:
    """Not ready for as long as NATS is down; ready again and serving both paths afterwards."""
    bridge = await start_bridge()
    await until(lambda: _ready(bridge))
    samples = await _down_for(bridge, nats_server, 4.0)
    assert samples and not any(samples), samples
    await until(lambda: _ready(bridge), limit=60)
    await _still_serves(nc, outcomes, "idle")


async def test_a_nats_restart_while_commands_are_executing(
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    nats_server: EmbeddedNats,
    sandbox: Any,
    sandbox_key: str,
) -> None:
    """Five durable commands are at the API (held 2 s) when NATS goes down for 4 s: their outcomes
    cannot be published, so they are redelivered and replay; each takes effect once and succeeds."""
    bridge = await start_bridge(ack_wait_seconds=2.0)
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects", "method": "POST", "hold_ms": 2000, "times": 5}]
    )
    ids = [f"busy-{i}" for i in range(5)]
    js = nc.jetstream()
    for cid in ids:
        await js.publish(
            SUBJECTS.command("project.create"), json.dumps({"name": cid, "commandId": cid}).encode()
        )
    await until(lambda: len(requests_of(sandbox)) >= 5)
    samples = await _down_for(bridge, nats_server, 4.0)
    assert not any(samples)
    await until(lambda: _ready(bridge), limit=60)
    for cid in ids:
        assert (await outcomes.wait_for(cid, timeout=90))[-1]["ok"] is True
        assert len(_projects_named(sandbox, sandbox_key, cid)) == 1
    assert await until(lambda: _commands_gone(nc), limit=60) is True
    await _still_serves(nc, outcomes, "busy")


class _FlakyFetch:
    """A pull subscription whose fetch fails as a restarting server's does (a 503 status), then
    works: what no running server can be made to do on cue."""

    def __init__(self, real: Any, failures: int) -> None:
        self.real, self.failures, self.calls = real, failures, 0

    async def fetch(self, batch: int, timeout: float) -> Any:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise ServiceUnavailableError()
        return await self.real.fetch(batch=batch, timeout=timeout)

    async def unsubscribe(self) -> None:
        await self.real.unsubscribe()


async def test_fetch_errors_other_than_timeouts_give_every_slot_back(
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    monkeypatch: pytest.MonkeyPatch,
    sandbox: Any,
) -> None:
    """Three fetches fail with a 503: the loop re-binds each time, keeps all its in-flight slots,
    and then fetches (and answers) durable commands as before."""
    real_bind = DurableIntake._bind
    flaky: list[_FlakyFetch] = []

    async def bind(self: DurableIntake, lane: Any) -> Any:
        sub = await real_bind(self, lane)
        if lane.parked:
            return sub  # the commands lane is the one under test
        wrapped = _FlakyFetch(sub, failures=1 if len(flaky) < 3 else 0)
        flaky.append(wrapped)
        return wrapped

    monkeypatch.setattr(DurableIntake, "_bind", bind)
    bridge = await start_bridge(max_in_flight=4, route_max_in_flight=4)
    await until(lambda: len(flaky) >= 4 and flaky[-1].calls > 0, limit=30)
    # Four commands held at the API at once need all four slots: a slot leaked per 503 (or all
    # of them, as the old loop did) would keep some of them waiting in the stream.
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects", "method": "POST", "hold_ms": 3000, "times": 4}]
    )
    js = nc.jetstream()
    for i in range(4):
        await js.publish(
            SUBJECTS.command("project.create"),
            json.dumps({"name": f"after-503-{i}", "commandId": f"after-503-{i}"}).encode(),
        )
    await until(lambda: bridge.intake.running == 4 if bridge.intake else False)
    for i in range(4):
        assert (await outcomes.wait_for(f"after-503-{i}"))[-1]["ok"] is True
