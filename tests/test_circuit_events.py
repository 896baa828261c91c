"""A circuit's bridge.degraded / bridge.recovered are never lost (issue 22, point 4): a publish that
fails after the KV write is repeated until it goes out, and the key outlives a circuit open longer
than its TTL. Real nats-server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import KeyValueConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from bridge.http.circuit import CircuitChange
from bridge.names import EVENTS_STREAM, Subjects
from bridge.nats.circuits import announce_and_keep
from bridge.nats.outcomes import OutcomePublisher
from bridge.nats.streams import circuits_bucket
from tests.fixtures.waiting import until

SUBJECTS = Subjects("story")


class FlakyOutcomes(OutcomePublisher):
    """Fails the first `failures` bridge events, as a NATS hiccup would."""

    def __init__(self, js: JetStreamContext, failures: int) -> None:
        super().__init__(js, SUBJECTS, source="test")
        self.failures = failures

    async def publish_bridge(self, what: str, data: dict[str, Any], *, key: str) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("NATS went away")
        await super().publish_bridge(what, data, key=key)


def _change(open_: bool, since: datetime) -> CircuitChange:
    return CircuitChange(
        provider="story", open=open_, code="api_key_revoked", message="revoked", since=since
    )


async def _bridge_events(js: JetStreamContext) -> list[str]:
    info = await js.stream_info(EVENTS_STREAM)
    out: list[str] = []
    if not info.state.messages:
        return out
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(EVENTS_STREAM, seq)
        if msg.subject and ".bridge." in msg.subject:
            out.append(msg.subject.rsplit(".", 1)[1])
    return out


async def _has_key(circuits: KeyValue) -> bool:
    try:
        entry = await circuits.get("story")
    except KeyNotFoundError:
        return False
    return entry.value is not None


async def test_events_whose_publish_fails_after_the_kv_write_still_go_out_once(
    nc: NatsClient, js: JetStreamContext, kv: KeyValue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bridge.nats.circuits.RETRY_CAP_SECONDS", 0.05)
    circuits = await circuits_bucket(js)
    since = datetime.now(UTC)
    is_open = [True]
    surfaced: list[str] = []
    opening = asyncio.create_task(
        announce_and_keep(
            circuits,
            FlakyOutcomes(js, failures=12),  # past the error threshold: surfaced, still retried
            _change(True, since),
            is_open=lambda: is_open[0],
            heartbeat_every=0.1,
            surfaced=surfaced.append,
        )
    )
    await until(lambda: _count(js, "degraded", 1), limit=30)
    assert surfaced == ["circuit_event"]
    stored = json.loads((await circuits.get("story")).value or b"{}")
    assert stored["announced"] is True
    is_open[0] = False
    await asyncio.wait_for(opening, 10)

    await asyncio.wait_for(
        announce_and_keep(
            circuits,
            FlakyOutcomes(js, failures=2),
            _change(False, datetime.now(UTC)),
            is_open=lambda: False,
            heartbeat_every=0.1,
        ),
        30,
    )
    assert await _bridge_events(js) == ["degraded", "recovered"]
    assert not await _has_key(circuits)


async def test_a_circuit_open_longer_than_its_key_ttl_still_announces_recovered(
    nc: NatsClient, js: JetStreamContext, kv: KeyValue
) -> None:
    """The key's TTL frees a key nobody keeps; the heartbeat keeps it while the circuit is open."""
    circuits = await js.create_key_value(
        KeyValueConfig(bucket="SHORT_CIRCUITS", history=1, ttl=1.0, storage=StorageType.FILE)
    )
    outcomes = OutcomePublisher(js, SUBJECTS, source="test")
    is_open = [True]
    opening = asyncio.create_task(
        announce_and_keep(
            circuits,
            outcomes,
            _change(True, datetime.now(UTC)),
            is_open=lambda: is_open[0],
            heartbeat_every=0.3,
        )
    )
    await until(lambda: _count(js, "degraded", 1))
    await asyncio.sleep(3.0)  # three TTLs
    assert await _has_key(circuits)
    is_open[0] = False
    await asyncio.wait_for(opening, 10)
    await announce_and_keep(
        circuits,
        outcomes,
        _change(False, datetime.now(UTC)),
        is_open=lambda: False,
        heartbeat_every=0.3,
    )
    assert await _bridge_events(js) == ["degraded", "recovered"]


async def _count(js: JetStreamContext, what: str, n: int) -> bool:
    return (await _bridge_events(js)).count(what) >= n
