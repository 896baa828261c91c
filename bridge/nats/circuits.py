"""The circuit's events on the bus: `bridge.degraded` / `bridge.recovered` once per opening for all
replicas, coordinated through the KV bucket STORYBRIDGE_CIRCUITS."""

from __future__ import annotations

import json

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from bridge.http.circuit import CircuitChange
from bridge.nats.outcomes import OutcomePublisher


async def announce_circuit(
    circuits: KeyValue, outcomes: OutcomePublisher, change: CircuitChange
) -> None:
    """One event per opening for all replicas: the replica that creates the provider's key
    announces degraded, the one that deletes it (compare-and-set) announces recovered."""
    since = change.since.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    data = {"provider": change.provider, "code": change.code, "message": change.message}
    if change.open:
        try:
            await circuits.create(change.provider, json.dumps({**data, "since": since}).encode())
        except KeyWrongLastSequenceError:
            return  # another replica opened it first and announced it
        await outcomes.publish_bridge(
            "degraded", {**data, "since": since}, key=f"{change.provider}:{since}"
        )
        return
    try:
        entry = await circuits.get(change.provider)
    except KeyNotFoundError:
        return  # another replica closed it first
    opened = json.loads(entry.value or b"{}")
    try:
        await circuits.delete(change.provider, last=entry.revision)
    except KeyWrongLastSequenceError:
        return
    opened_since = str(opened.get("since") or since)
    await outcomes.publish_bridge(
        "recovered",
        {**data, "code": opened.get("code", change.code), "since": opened_since, "at": since},
        key=f"{change.provider}:{opened_since}",
    )
