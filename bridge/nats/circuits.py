"""The circuit's events on the bus: `bridge.degraded` / `bridge.recovered` once per opening for all
replicas, coordinated through the KV bucket STORYBRIDGE_CIRCUITS.

Each step is safe to repeat, so a caller retries `announce_circuit` until it returns and no event
is lost when a publish fails between the KV write and the event:
* opening: create the provider's key (`announced: false`), publish `degraded` (its id derives from
  the opening's `since`, so a repeat dedups), then mark the key announced. A repeat that finds the
  key unannounced publishes again (same id) and marks it.
* closing: publish `recovered` first (id from the opening's `since`), then delete the key (CAS). A
  failed delete is repeated; another replica's repeat publishes the same id.
The key's TTL frees it when every replica died while it was open; `heartbeat` rewrites it while the
circuit stays open, so a circuit open longer than the TTL still has its key and announces
`recovered`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import structlog
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from bridge.http.circuit import Circuit, CircuitChange
from bridge.nats.outcomes import OutcomePublisher
from bridge.nats.streams import CIRCUITS_HEARTBEAT_SECONDS

log = structlog.get_logger(__name__)


def _iso(change: CircuitChange) -> str:
    return change.since.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _entry(circuits: KeyValue, provider: str) -> tuple[dict[str, Any], int] | None:
    try:
        entry = await circuits.get(provider)
    except KeyNotFoundError:
        return None
    if entry.value is None:  # a delete marker
        return None
    return json.loads(entry.value or b"{}"), int(entry.revision or 0)


async def announce_circuit(
    circuits: KeyValue, outcomes: OutcomePublisher, change: CircuitChange
) -> None:
    """One event per opening for all replicas; raises when a step failed (repeat it)."""
    data = {"provider": change.provider, "code": change.code, "message": change.message}
    if change.open:
        opened = {**data, "since": _iso(change), "announced": False}
        try:
            await circuits.create(change.provider, json.dumps(opened).encode())
        except KeyWrongLastSequenceError:
            found = await _entry(circuits, change.provider)
            if found is None or found[0].get("announced", True):
                return  # another replica opened it and announced it (or it closed already)
            opened = found[0]
        since = str(opened["since"])
        await outcomes.publish_bridge(
            "degraded",
            {k: opened[k] for k in ("provider", "code", "message", "since") if k in opened},
            key=f"{change.provider}:{since}",
        )
        await _mark_announced(circuits, change.provider)
        return
    found = await _entry(circuits, change.provider)
    if found is None:
        return  # another replica closed it first (and announced it)
    stored, revision = found
    opened_since = str(stored.get("since") or _iso(change))
    await outcomes.publish_bridge(
        "recovered",
        {
            **data,
            "code": stored.get("code", change.code),
            "since": opened_since,
            "at": _iso(change),
        },
        key=f"{change.provider}:{opened_since}",
    )
    try:
        await circuits.delete(change.provider, last=revision)
    except KeyWrongLastSequenceError:
        # Rewritten meanwhile (a heartbeat, or the mark): delete what is there now.
        again = await _entry(circuits, change.provider)
        if again is not None and again[0].get("since") == stored.get("since"):
            await circuits.delete(change.provider, last=again[1])


async def _mark_announced(circuits: KeyValue, provider: str) -> None:
    found = await _entry(circuits, provider)
    if found is None or found[0].get("announced"):
        return
    with_mark = {**found[0], "announced": True}
    # Another replica marked it (or a heartbeat rewrote it): the event is out either way.
    with contextlib.suppress(KeyWrongLastSequenceError):
        await circuits.update(provider, json.dumps(with_mark).encode(), last=found[1])


async def heartbeat(circuits: KeyValue, provider: str) -> bool:
    """Rewrite the open circuit's key as it is (the TTL counts from the last write); False when
    there is no key (closed, or never created by this opening)."""
    found = await _entry(circuits, provider)
    if found is None:
        return False
    # Written by someone else just now: as fresh as ours.
    with contextlib.suppress(KeyWrongLastSequenceError):
        await circuits.update(provider, json.dumps(found[0]).encode(), last=found[1])
    return True


# After this many failed tries an announcement still retrying is logged as an error and counted.
ERROR_AFTER_ATTEMPTS = 10
RETRY_CAP_SECONDS = 30.0


async def announce_and_keep(
    circuits: KeyValue,
    outcomes: OutcomePublisher,
    change: CircuitChange,
    *,
    is_open: Callable[[], bool],
    heartbeat_every: float,
    surfaced: Callable[[str], None] | None = None,
) -> None:
    """Announce `change` until that succeeds (NATS may be down for a while: never a silent give-up),
    then, for an opening, keep the key alive while the circuit stays open. Runs as the circuit's
    change hook, which `Circuit.stop` cancels."""
    attempt = 0
    while True:
        if change.open and not is_open():
            return  # closed before it was told: the closing announces recovered from the key
        try:
            await announce_circuit(circuits, outcomes, change)
            break
        except Exception as err:
            attempt += 1
            what = "degraded" if change.open else "recovered"
            if attempt % ERROR_AFTER_ATTEMPTS == 0:
                log.error(
                    "bridge event still not published; retrying", bridge_event=what, error=repr(err)
                )
                if surfaced is not None:
                    surfaced("circuit_event")
            else:
                log.warning("bridge event not published yet", bridge_event=what, error=repr(err))
            await asyncio.sleep(min(2.0**attempt, RETRY_CAP_SECONDS))
    while change.open and is_open():
        await asyncio.sleep(heartbeat_every)
        if not is_open():
            return
        try:
            await heartbeat(circuits, change.provider)
        except Exception as err:  # the next beat tries again, well within the TTL
            log.warning("circuit key heartbeat failed", provider=change.provider, error=repr(err))


class CircuitBoard:
    """The bridge's circuits, one per provider, as the runtime uses them: the watch engine's pause,
    the intake's hold, the announcement hook, and recoveries seen by other replicas.

    A circuit closes when *its* probe passes, and each replica probes on its own: a replica whose
    probe is not due yet would hold commands up to a probe interval after another replica saw
    the provider answer. So the board watches STORYBRIDGE_CIRCUITS: a provider's key deleted (the
    recovery announced) or expired makes every replica whose circuit is still open probe now.
    """

    def __init__(self) -> None:
        self.members: dict[str, Circuit] = {}
        self.kv: KeyValue | None = None
        self.outcomes: OutcomePublisher | None = None
        self.gauge: Callable[[str, bool], None] | None = None
        self.surfaced: Callable[[str], None] | None = None
        self._follow: asyncio.Task[None] | None = None

    def add(self, circuit: Circuit) -> Circuit:
        self.members[circuit.provider] = circuit
        return circuit

    def paused(self, provider: str) -> bool:
        """The watch engine's pause hook: each provider's own circuit."""
        circuit = self.members.get(provider)
        return circuit is not None and circuit.is_open

    def hold(self, provider: str) -> float | None:
        """How long a durable command of `provider` waits for its circuit (None: closed)."""
        circuit = self.members.get(provider)
        return circuit.hold_seconds() if circuit is not None else None

    async def changed(self, change: CircuitChange) -> None:
        """Every circuit's `on_change`: the gauge, then one announcement for all replicas."""
        if self.gauge is not None:
            self.gauge(change.provider, change.open)
        if self.kv is None or self.outcomes is None:
            return
        circuit = self.members.get(change.provider)
        await announce_and_keep(
            self.kv,
            self.outcomes,
            change,
            is_open=lambda: circuit is not None and circuit.is_open,
            heartbeat_every=CIRCUITS_HEARTBEAT_SECONDS,
            surfaced=self.surfaced,
        )

    def follow(self) -> None:
        if self.kv is not None and self._follow is None:
            self._follow = asyncio.create_task(self._follow_loop(), name="storybridge-circuits")

    async def _follow_loop(self) -> None:
        assert self.kv is not None
        while True:
            try:
                watcher = await self.kv.watch(">")
                async for entry in watcher:
                    if entry is not None and entry.operation in ("DEL", "PURGE"):
                        circuit = self.members.get(entry.key)
                        if circuit is not None and circuit.is_open:
                            circuit.probe_soon()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # NATS away: watch again (probes go on meanwhile)
                log.warning("circuit key watch failed; watching again", error=repr(err))
                await asyncio.sleep(5.0)

    async def stop(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow
            self._follow = None
        for circuit in self.members.values():
            await circuit.stop()
