"""The fleet as NATS shows it: what `admin.status` answers and the fleet gauges export.

Everything here is read from NATS, so any replica answers for all of them and no pod is asked:
- replicas and shards: the heartbeats (`m.<replica>`) and leases (`l.<shard>`) in the watch bucket.
  A replica is alive while its heartbeat is renewed on time (`every`: a killed one is seen within
  three renewals, well before its leases expire); "on time" is measured on this process's own
  monotonic clock from when it saw the heartbeat change (`BeatClock`), so another pod's clock
  running ahead or behind, or a slow tick, never marks it dead; only a heartbeat not seen
  changing yet is judged by its own `renewed_at`. A shard is unowned when it has no lease, an
  expired one, or one held by a replica no longer alive;
- commands: the commands consumer (pending, ack pending, redelivered) and the first message of
  its work-queue stream (the oldest command not settled); `fleet_report` takes what live replicas
  are running off the unsettled ones to count the parked;
- dead letters: STORYBRIDGE_DEAD_LETTERS, one STREAM.INFO with a subjects filter (count, oldest
  and the count per command exact); reasons (a header) from the first N messages only;
- circuits: STORYBRIDGE_CIRCUITS (one key per open provider);
- each replica's own summary (watches of its shards, its poll budget, credits, recent event
  delays) from STORYBRIDGE_STATUS, written by `bridge.nats.fleet_report`; read by the replica
  ids the heartbeats name, one get each, never by listing the bucket (a key listing creates a
  watcher per call, and every replica reports every few seconds).

Read errors are raised, not swallowed: the caller reports them per section, so a failed read
never shows as "no circuit open" or "no watches".
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, NoKeysError, NotFoundError
from nats.js.kv import KeyValue

from bridge.names import COMMANDS_CONSUMER, COMMANDS_STREAM, DEAD_LETTERS_STREAM
from bridge.nats.deadletters import REASON_HEADER
from bridge.watch.lease import LEASE_PREFIX, MEMBER_PREFIX

MISSED_RENEWALS = 3  # a heartbeat this many renewals late: the replica stopped (killed, frozen)
REPORT_PREFIX = "r."
_FRACTION = re.compile(r"\.(\d+)")


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def server_time(value: object) -> datetime | None:
    """A JetStream time (`2026-12-06T18:00:00.123456789Z`, nanoseconds) as a datetime; None for
    the zero time the server gives an empty stream."""
    if not isinstance(value, str) or value.startswith("0001-"):
        return None
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6], value.replace("Z", "+00:00"), count=1)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Heartbeat:
    replica: str
    expires_at: float
    renewed_at: float | None
    every: float | None
    # Seconds this process has seen the heartbeat unchanged, on its own clock (None: not
    # observed), and whether it has seen it change at all.
    unchanged_for: float | None = None
    seen_changing: bool = False

    def alive(self, now: float) -> bool:
        if self.unchanged_for is not None and self.every is not None:
            if self.unchanged_for > MISSED_RENEWALS * self.every + 1.0:
                return False  # not renewed for three renewals of our own clock
            if self.seen_changing:
                return True  # renewing on time as we watch, whatever its clock says
        # Not seen changing yet: how old it is can only be read from its own clock.
        if self.expires_at <= now:
            return False
        if self.renewed_at is None or self.every is None:
            return True  # written before heartbeats said when: trust the expiry
        return now - self.renewed_at <= MISSED_RENEWALS * self.every + 1.0


@dataclass(frozen=True)
class Ownership:
    """Replicas (alive or not) with the shards they hold, and the shards nobody live holds."""

    heartbeats: dict[str, Heartbeat]
    held: dict[str, list[int]]
    unowned: list[int]
    total: int

    def alive(self, now: float) -> list[str]:
        return sorted(r for r, beat in self.heartbeats.items() if beat.alive(now))


class BeatClock:
    """When this process last saw each heartbeat change, on its monotonic clock."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[bytes, float, bool]] = {}  # value, since, changed once

    def observe(self, control: Mapping[str, bytes], mono: float) -> dict[str, tuple[float, bool]]:
        """Per replica: seconds its heartbeat has been unchanged (since our first sight of it, if
        never seen changing), and whether it has been seen changing."""
        out: dict[str, tuple[float, bool]] = {}
        current = {
            k[len(MEMBER_PREFIX) :]: v for k, v in control.items() if k.startswith(MEMBER_PREFIX)
        }
        for replica, raw in current.items():
            last = self._seen.get(replica)
            if last is None:
                # First sight: its age is unknown to us (the wall-clock rule judges it).
                self._seen[replica] = (raw, mono, False)
            elif last[0] != raw:
                self._seen[replica] = (raw, mono, True)
            _, since, changed = self._seen[replica]
            out[replica] = (max(0.0, mono - since), changed)
        for gone in set(self._seen) - set(current):
            del self._seen[gone]
        return out


def ownership(
    control: Mapping[str, bytes],
    shards: int,
    now: float,
    unchanged_for: Mapping[str, tuple[float, bool]] | None = None,
) -> Ownership:
    """Who holds which shard, from the watch bucket's lease and heartbeat keys; `unchanged_for`
    (`BeatClock.observe`) judges liveness on our own clock where known."""
    beats: dict[str, Heartbeat] = {}
    leases: dict[int, tuple[str, float]] = {}
    for key, raw in control.items():
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(value, dict):
            continue
        if key.startswith(MEMBER_PREFIX):
            replica = key[len(MEMBER_PREFIX) :]
            beats[replica] = Heartbeat(
                replica,
                float(value.get("expires_at") or 0.0),
                _number(value.get("renewed_at")),
                _number(value.get("every")),
                *(unchanged_for or {}).get(replica, (None, False)),
            )
        elif key.startswith(LEASE_PREFIX) and key[len(LEASE_PREFIX) :].isdigit():
            shard = int(key[len(LEASE_PREFIX) :])
            leases[shard] = (str(value.get("owner") or ""), float(value.get("expires_at") or 0.0))
    held: dict[str, list[int]] = {}
    unowned: list[int] = []
    for shard in range(shards):
        owner, expires = leases.get(shard, ("", 0.0))
        beat = beats.get(owner)
        if owner and expires > now:
            held.setdefault(owner, []).append(shard)
        if not owner or expires <= now or beat is None or not beat.alive(now):
            unowned.append(shard)
    return Ownership(beats, held, unowned, shards)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


@dataclass
class CommandsView:
    pending: int = 0
    ack_pending: int = 0
    parked: int = 0
    oldest_at: datetime | None = None  # the oldest unsettled, undelivered backlog included
    oldest_delivered_at: datetime | None = None  # the oldest delivered and unsettled


@dataclass
class DeadLetterView:
    count: int = 0
    oldest_at: datetime | None = None
    by_reason: Counter[str] = field(default_factory=Counter)
    by_command: Counter[str] = field(default_factory=Counter)
    sampled: int = 0


async def stream_state(
    js: JetStreamContext, stream: str, *, subjects_filter: str | None = None, timeout: float = 5.0
) -> dict[str, Any]:
    """The stream's state as the server sends it: nats-py drops `first_ts`, the oldest message's
    time, which is what the ages here are made of. With `subjects_filter`, `state.subjects` holds
    the message count per subject."""
    body = json.dumps({"subjects_filter": subjects_filter}).encode() if subjects_filter else b""
    # nats-py exposes neither the connection nor the API prefix of a JetStreamContext, and its
    # stream_info() parses `first_ts` away: the raw request is the only way to the oldest age.
    reply = await js._nc.request(f"{js._prefix}.STREAM.INFO.{stream}", body, timeout)
    info = json.loads(reply.data)
    if "error" in info:
        raise NotFoundError(description=str(info["error"]))
    state = info.get("state") or {}
    return state if isinstance(state, dict) else {}


async def commands_view(js: JetStreamContext) -> CommandsView:
    info = await js.consumer_info(COMMANDS_STREAM, COMMANDS_CONSUMER)
    state = await stream_state(js, COMMANDS_STREAM)
    oldest_at = server_time(state.get("first_ts")) if state.get("messages") else None
    # The stream is a work queue: its first message is the oldest unsettled one, and it was
    # delivered when its sequence is at or below the consumer's last delivered one (the consumer
    # delivers in stream order). A backlog nobody fetched yet is not "waiting for a retry".
    delivered = int(getattr(info.delivered, "stream_seq", 0) or 0)
    first = int(state.get("first_seq") or 0)
    was_delivered = bool(info.num_ack_pending) and 0 < first <= delivered
    return CommandsView(
        pending=int(info.num_pending or 0),
        ack_pending=int(info.num_ack_pending or 0),
        # Pending messages delivered more than once: retried commands (fleet_report adds the
        # ones waiting for their first retry).
        parked=int(info.num_redelivered or 0),
        oldest_at=oldest_at,
        oldest_delivered_at=oldest_at if was_delivered else None,
    )


async def dead_letter_view(
    js: JetStreamContext, *, sample: int = 0, until: float | None = None
) -> DeadLetterView:
    """Count, oldest and per command from one STREAM.INFO; reasons from the first `sample`
    messages, read until `until` (time.monotonic()) at the latest."""
    state = await stream_state(js, DEAD_LETTERS_STREAM, subjects_filter=">" if sample else None)
    view = DeadLetterView(count=int(state.get("messages") or 0))
    if view.count:
        view.oldest_at = server_time(state.get("first_ts"))
    for subject, n in (state.get("subjects") or {}).items():
        view.by_command[".".join(str(subject).split(".")[-2:])] += int(n)
    seq = int(state.get("first_seq") or 0)
    last = int(state.get("last_seq") or 0)
    while view.count and view.sampled < min(sample, view.count) and seq <= last:
        if until is not None and time.monotonic() >= until:
            break  # the answer is due: what was read so far, `sampled` says how much
        try:
            msg = await js.get_msg(DEAD_LETTERS_STREAM, seq, subject=">", next=True)
        except NotFoundError:
            break
        headers = msg.headers or {}
        view.by_reason[str(headers.get(REASON_HEADER) or "unknown")] += 1
        view.sampled += 1
        seq = int(msg.seq or seq) + 1
    return view


async def open_circuits(circuits: KeyValue | None) -> dict[str, dict[str, Any]]:
    """The providers whose circuit is open, with what opened it (code, since)."""
    if circuits is None:
        return {}
    try:
        keys = await circuits.keys()
    except NoKeysError:  # an empty bucket: no circuit open
        return {}
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        try:
            entry = await circuits.get(key)
        except KeyNotFoundError:  # closed between the listing and the read
            continue
        value = _json(entry.value)
        out[key] = value if isinstance(value, dict) else {}
    return out


async def replica_reports(
    status: KeyValue | None, replicas: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The summaries of `replicas` (ids from the heartbeats) still in STORYBRIDGE_STATUS."""
    if status is None:
        return {}
    ids = sorted(set(replicas))

    async def one(rid: str) -> dict[str, Any] | None:
        try:
            entry = await status.get(f"{REPORT_PREFIX}{rid}")
        except KeyNotFoundError:  # not reported yet, or its TTL dropped it
            return None
        value = _json(entry.value)
        return value if isinstance(value, dict) else None

    found = await asyncio.gather(*(one(rid) for rid in ids))
    return {rid: value for rid, value in zip(ids, found, strict=True) if value is not None}


def _json(raw: bytes | None) -> Any:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return None
