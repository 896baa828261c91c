"""The provider-neutral watch engine: poll what this replica owns, publish each change once.

Per change: (1) CAS-write the record with the new facet states AND the staged events (outbox),
(2) publish them in order with `Nats-Msg-Id` = event id, checking each ack (or, for an event that
may have gone out before, looking it up in the stream first), (3) CAS-write the record with the
outbox cleared. A crash anywhere re-runs (2)-(3) from KV on the next owner; a replica that lost
its lease mid-poll fails its CAS at (1) and drops what it read.

A read may show resources other than the watched one (a job embeds its artifacts): those
observations are forwarded to the resource's own record (created on first sight, not polled),
which alone holds that resource's chain, so overlapping watches never publish one transition
twice or under two ids.

Scale: a replica mirrors only the shards it holds; due watches come from a heap (`DueQueue`), so an
idle tick costs one peek; finished records are out of the heap and only wait for their deletion.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from sys import intern
from typing import Any

import structlog
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import FetchTimeoutError
from nats.js.kv import KeyValue

from bridge.nats.streams import Subjects
from bridge.watch.events import bound_event
from bridge.watch.lease import Leases
from bridge.watch.model import (
    SHARDS,
    Observation,
    PendingEvent,
    ReadError,
    Reading,
    WatchRecord,
    WatchSpec,
    key_token,
    shard_of_key,
)
from bridge.watch.outbox import Outbox, OutboxError
from bridge.watch.provider import Provider
from bridge.watch.scheduler import DueQueue, Slot
from bridge.watch.settings import WatchSettings
from bridge.watch.store import Conflict, Entry, Store
from bridge.watch.transition import stage_changes, stage_lifecycle, stage_stall

log = structlog.get_logger(__name__)

IDLE_TICK = 0.5  # longest the scheduler sleeps without being woken
STOP_TIMEOUT = 10.0  # longest stop() waits for its tasks
DUE_PER_TICK = 5000  # due keys taken per tick; the rest stay due for the next one
# Reads under way at once (each up to `batch_size` watches). Due watches beyond that stay in the
# heap: a backlog (100,000 watches, a 120/min budget) costs heap entries, not decoded specs and
# tasks queued on the rate budget.
POLLS_IN_FLIGHT = 16
FLUSH_RETRY = (0.5, 30.0)  # backoff of an outbox that could not be settled (min, max seconds)
RECORD_HEADROOM = 4096  # bytes kept free below the server's max_payload


@dataclass(frozen=True)
class EngineStats:
    """For readiness and metrics: the records of the shards this replica holds."""

    active: int
    owned: int
    stalled: int
    max_poll_lag: float
    by_kind: dict[str, int]


class WatchEngine:
    """Start it after JetStream is declared; `add()` watches, `stop()` hands the shards back.

    `paused(provider)` (optional) is asked every tick: while it answers True that provider's
    watches are not read at all, and neither their failure counts nor their 404 or age clocks
    move (an open circuit stalls or ends nothing). A read that raises an exception with a truthy
    `pauses_polling` attribute is treated the same way, for that read.
    """

    def __init__(
        self,
        js: JetStreamContext,
        kv: KeyValue,
        providers: dict[str, Provider],
        subjects: Subjects | None = None,
        settings: WatchSettings | None = None,
        metrics: Any = None,
        paused: Callable[[str], bool] | None = None,
    ) -> None:
        self.settings = settings or WatchSettings()
        self.subjects = subjects or Subjects()
        self.providers = providers
        self.metrics = metrics
        self.paused = paused
        self.js = js
        self.store = Store(kv, on_change=self._on_change)
        self.outbox = Outbox(js)
        self.leases = Leases(
            self.store,
            self.settings.replica_id,
            shards=SHARDS,
            lease_seconds=self.settings.lease_seconds,
        )
        self.ready = False
        self._stopping = False
        self._slots: dict[str, Slot] = {}  # active or outboxed records of the shards we hold
        self._due = DueQueue()
        self._groups: dict[tuple[str, str], set[str]] = {}  # (provider, batch key) -> keys
        self._retire: list[tuple[float, str]] = []  # (delete after, key) of finished records
        self._active: Counter[str] = Counter()  # active records held, by resource
        self._stalled: set[str] = set()
        self._outboxed: set[str] = set()
        self._flush_failures: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._work: set[asyncio.Task[None]] = set()
        self._inflight: set[str] = set()  # keys being read right now (never polled twice at once)
        self._polls = 0  # read batches under way
        self._flushing: set[str] = set()
        self._paused_since: dict[str, float] = {}
        self._paused_total: dict[str, float] = {}
        # Detection latency: key -> {staged event id: the watch's previous read before the change}.
        self._detected: dict[str, dict[str, float]] = {}
        self._wake = asyncio.Event()
        self._loading: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        await self.store.start()
        try:
            await self.outbox.learn_last_seq()
        except Exception as err:  # the stream may be unreachable: events staged meanwhile are
            # looked up from sequence 0 before they are sent, which is slow but exact
            log.warning("events stream not readable at start", error=str(err))
        await self.leases.tick()
        await self._sync_shards()
        if self._loading is not None:
            await self._loading  # ready means: every shard we hold is loaded and scheduled
        self._tasks = [
            asyncio.create_task(self._lease_loop(), name="watch-leases"),
            asyncio.create_task(self._schedule_loop(), name="watch-scheduler"),
        ]
        if self.settings.discovery_interval > 0:
            self._tasks.append(asyncio.create_task(self._discovery_loop(), name="watch-discovery"))
        self.ready = True
        log.info(
            "watch engine started", replica=self.settings.replica_id, shards=len(self.store.shards)
        )

    async def stop(self, *, release: bool = True) -> None:
        """Stop polling; `release` hands the shards back so another replica takes over at once."""
        self.ready = False
        self._stopping = True
        tasks = [*self._tasks, *self._work, *([self._loading] if self._loading else [])]
        for task in tasks:
            task.cancel()
        if tasks:
            # A library that turns a cancellation into an ordinary error (nats-py's publish does)
            # lets a task run on; the loops also check `_stopping`, and this wait is bounded.
            _, late = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            if late:
                log.warning("watch tasks still running at stop", tasks=[t.get_name() for t in late])
        self._tasks, self._work = [], set()
        self._inflight.clear()
        self._polls = 0
        self._flushing.clear()
        self._detected.clear()
        if release:
            with contextlib.suppress(Exception):
                await self.leases.release_all()
        await self.store.stop()
        self._forget_all()

    def _forget_all(self) -> None:
        self._slots.clear()
        self._due = DueQueue()
        self._groups.clear()
        self._retire.clear()
        self._active.clear()
        self._stalled.clear()
        self._outboxed.clear()

    async def _sync_shards(self) -> None:
        """Mirror exactly the shards whose lease we hold: lost ones are dropped at once, new ones
        loaded one by one in the background, so renewing leases never waits for a big load."""
        owned = set(self.leases.owned(time.time()))
        for shard in sorted(self.store.shards - owned):
            await self.store.unwatch_shard(shard)
        if owned - self.store.shards and (self._loading is None or self._loading.done()):
            self._loading = asyncio.create_task(self._load_shards(), name="watch-shard-load")

    async def _load_shards(self) -> None:
        while not self._stopping:
            missing = sorted(set(self.leases.owned(time.time())) - self.store.shards)
            if not missing:
                return
            try:
                await self.store.watch_shard(missing[0])
            except Exception as err:  # retried on the next lease tick
                log.warning("loading a shard failed", shard=missing[0], error=str(err))
                return
            self._wake.set()

    # -- the mirror's view -----------------------------------------------------------------------

    def _on_change(self, key: str, entry: Entry | None) -> None:
        """Keep the schedule, groups and counts in step with one record of a shard we hold."""
        record = None
        if entry is not None:
            try:
                record = WatchRecord.decode(entry.value)
            except ValueError:
                log.warning("undecodable watch record", key=key)
        slot = self._slots.get(key)
        active = record is not None and record.polled and not record.done
        if slot is not None and slot.polled and not active:
            self._active[slot.resource] -= 1
            self._ungroup(key, slot)
        if record is None or (not active and not record.outbox):
            self._slots.pop(key, None)
            self._due.discard(key)
            self._outboxed.discard(key)
            self._stalled.discard(key)
            self._detected.pop(key, None)
            if record is not None and record.done:
                kept = record.done_at or time.time()
                heapq.heappush(self._retire, (kept + self.settings.retain_done_seconds, key))
            return
        now = time.time()
        spec = record.spec
        provider = self.providers.get(spec.provider)
        if slot is None:
            # Interned: 100,000 slots share a handful of provider and resource strings.
            slot = Slot(next_at=now, provider=intern(spec.provider), resource=intern(spec.resource))
            slot.pause_base = self._pause_clock(spec.provider, now)
            self._slots[key] = slot
            if key not in self._inflight:
                self._due.push(key, now)
        if active and not slot.polled:
            self._active[spec.resource] += 1
        group = provider.batch_key(spec) if provider is not None and active else None
        if group != slot.group or active != slot.polled:
            self._ungroup(key, slot)
            slot.group = intern(group) if group is not None else None
            if group is not None:
                self._groups.setdefault((spec.provider, group), set()).add(key)
        slot.polled = active
        if record.stalled:
            self._stalled.add(key)
        else:
            self._stalled.discard(key)
        if record.outbox:
            if key not in self._outboxed and key not in self._flushing:
                self._due.push(key, now)  # something left staged (by us or a crash): flush it
            self._outboxed.add(key)
        else:
            self._outboxed.discard(key)
        self._wake.set()

    def _ungroup(self, key: str, slot: Slot) -> None:
        if slot.group is None:
            return
        members = self._groups.get((slot.provider, slot.group))
        if members is not None:
            members.discard(key)
            if not members:
                del self._groups[(slot.provider, slot.group)]
        slot.group = None

    # -- public ----------------------------------------------------------------------------------

    async def add(self, spec: WatchSpec) -> None:
        """Watch `spec` (idempotent). A finished watch of the same resource is re-armed, keeping its
        facet states, so the chain of previousStatus continues and nothing is re-published."""
        if spec.provider not in self.providers:
            raise ValueError(f"unknown watch provider {spec.provider!r}")
        for _ in range(10):
            now = time.time()
            loaded = await self.store.load(spec.key)
            try:
                if loaded is None:
                    record = WatchRecord(
                        spec=spec, armed_at=now, expires_at=now + self.settings.max_age
                    )
                    await self.store.save(record, None)
                    break
                record, rev = loaded
                defaults = getattr(self.providers[spec.provider], "default_facets", None)
                if record.polled:
                    merged = _merge(record.spec, spec, defaults)
                else:  # a resource so far only observed through another watch: now asked for
                    merged = _merge(
                        record.spec.model_copy(update={"facets": spec.facets}), spec, defaults
                    )
                if record.polled and not record.done and merged == record.spec:
                    break
                if record.done or not record.polled:
                    record.armed_at, record.expires_at = now, now + self.settings.max_age
                    record.not_found, record.first_not_found_at = 0, None
                    record.failures, record.stalled = 0, False
                record.spec, record.polled = merged, True
                record.done, record.done_reason, record.done_at = False, None, None
                await self.store.save(record, rev)
                break
            except Conflict:
                continue
        if spec.key in self._slots and spec.key not in self._inflight:
            self._due.push(spec.key, time.time())  # due at once
        self._wake.set()

    async def remove(self, provider: str, resource: str, id: str) -> bool:
        """Stop watching. The record stays (done) so a pending outbox is still flushed."""
        key = WatchSpec(provider=provider, resource=resource, id=id).key
        for _ in range(10):
            loaded = await self.store.load(key)
            if loaded is None or loaded[0].done or not loaded[0].polled:
                return False
            record, rev = loaded
            record.done, record.done_reason, record.done_at = True, "removed", time.time()
            try:
                await self.store.save(record, rev)
                return True
            except Conflict:
                continue
        return False

    def stats(self) -> EngineStats:
        active = sum(self._active.values())
        next_at = self._due.next_at()
        lag = max(0.0, time.time() - next_at) if next_at is not None else 0.0
        by_kind = {resource: n for resource, n in self._active.items() if n > 0}
        return EngineStats(active, active, len(self._stalled), lag, by_kind)

    async def list_watches(
        self,
        *,
        provider: str | None = None,
        resource: str | None = None,
        state: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Every shard's records (read from KV, not the mirror), in key order, after `cursor`."""
        pattern = ".".join(
            [
                "w",
                "*",
                key_token(provider) if provider else "*",
                key_token(resource) if resource else "*",
                "*",
            ]
        )
        keys = sorted(await self._keys(pattern))
        out: list[dict[str, Any]] = []
        for key in keys:
            if cursor is not None and key <= cursor:
                continue
            loaded = await self.store.load(key)
            if loaded is None:
                continue
            record = loaded[0]
            if state is not None and record.state != state:
                continue
            out.append(describe(record))
            if len(out) >= limit:
                return out, key if key != keys[-1] else None
        return out, None

    async def _keys(self, pattern: str) -> list[str]:
        """Live keys matching `pattern`: a pull consumer over the bucket's stream, headers only,
        last value per key, read until the server says nothing is pending (a KV watcher's
        "end of initial values" marker can come early on a wildcard)."""
        bucket = self.store.kv._name
        sub = await self.js.pull_subscribe(
            f"$KV.{bucket}.{pattern}",
            stream=f"KV_{bucket}",
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
                ack_policy=AckPolicy.NONE,
                headers_only=True,
                inactive_threshold=30.0,
            ),
        )
        keys: list[str] = []
        head = f"$KV.{bucket}."
        try:
            for _ in range(10_000):  # a bound, not a limit anyone reaches: 1000 keys a fetch
                if not (await sub.consumer_info()).num_pending:
                    break
                with contextlib.suppress(FetchTimeoutError, TimeoutError):
                    for msg in await sub.fetch(1000, timeout=2.0):
                        if (msg.headers or {}).get("KV-Operation") not in ("DEL", "PURGE"):
                            keys.append(msg.subject[len(head) :])
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return keys

    # -- loops -----------------------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        while not self._stopping:
            # A fifth of the lease: a dead replica's shards are claimed soon after they expire.
            await asyncio.sleep(self.settings.lease_seconds / 5)
            try:
                await self.leases.tick()
                await self._sync_shards()
            except Exception as err:  # NATS hiccup: our leases simply expire if it lasts
                log.warning("lease renewal failed", error=str(err))
            self._wake.set()

    async def _schedule_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                self._tick()
            except Exception:
                log.exception("watch scheduler pass failed")
            self._report()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._sleep_for())

    def _sleep_for(self) -> float:
        nexts = [IDLE_TICK]
        due = self._due.next_at()
        if due is not None and self._polls < POLLS_IN_FLIGHT:  # else a finishing read wakes us
            nexts.append(due - time.time())
        if self._retire:
            nexts.append(self._retire[0][0] - time.time())
        return max(0.005, min(nexts))

    def _tick(self) -> None:
        """Start a read for every due watch; reads and flushes run as tasks so one slow provider
        (or a Retry-After wait inside the client) never holds up the others."""
        now = time.time()
        self._retire_due(now)
        due: dict[str, list[WatchSpec]] = {}
        room = max(0, POLLS_IN_FLIGHT - self._polls) * self.settings.batch_size
        for key in self._due.pop_due(now, min(DUE_PER_TICK, room)):
            slot = self._slots.get(key)
            entry = self.store.entries.get(key)
            if slot is None or entry is None or key in self._inflight:
                continue
            if key in self._outboxed:
                if key not in self._flushing:
                    self._spawn(self._flush(key, retry=True), f"flush-{key}")
                if slot.polled:
                    self._due.push(key, now + 0.05)  # read once the outbox is out
                continue
            if not slot.polled:
                continue
            if self._is_paused(slot.provider, now):
                slot.after_pause(now, self.settings)
                self._due.push(key, slot.next_at)
                continue
            record = WatchRecord.decode(entry.value)
            if now >= self._expires_at(record, slot, now):
                self._inflight.add(key)
                self._spawn(self._end(key, "expired"), f"expire-{key}")
                continue
            due.setdefault(slot.provider, []).append(record.spec)
        for name, specs in due.items():
            provider = self.providers.get(name)
            if provider is None:
                continue
            for batch in self._batches(provider, specs):
                self._inflight.update(s.key for s in batch)
                self._polls += 1
                self._spawn(self._poll_batch(provider, batch), f"poll-{name}")

    def _batches(self, provider: Provider, due: list[WatchSpec]) -> list[list[WatchSpec]]:
        """The due watches, plus every idle watch sharing a batch key with one of them (the same
        list call reads them all), cut into batches of about `batch_size` that never split a
        group. A group with a read under way waits: its due members go in the next read."""
        groups: dict[str | None, list[WatchSpec]] = {}
        for spec in due:
            slot = self._slots[spec.key]
            groups.setdefault(slot.group, []).append(spec)
        batches: list[list[WatchSpec]] = []
        current: list[WatchSpec] = []
        for group, specs in groups.items():
            if group is None:
                chunks = [[s] for s in specs]
            else:
                members = self._groups.get((provider.name, group), set())
                if any(k in self._inflight for k in members):
                    for s in specs:  # the read under way brings fresh news soon
                        self._due.push(s.key, time.time() + 0.05)
                    continue
                chunk = list(specs)
                seen = {s.key for s in specs}
                for key in members:
                    entry = self.store.entries.get(key)
                    if key in seen or entry is None:
                        continue
                    self._due.discard(key)
                    chunk.append(WatchRecord.decode(entry.value).spec)
                chunks = [chunk]
            for chunk in chunks:
                if current and len(current) + len(chunk) > self.settings.batch_size:
                    batches.append(current)
                    current = []
                current.extend(chunk)
        if current:
            batches.append(current)
        return batches

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _poll_batch(self, provider: Provider, batch: list[WatchSpec]) -> None:
        try:
            try:
                results = await provider.read(batch)
            except Exception as err:  # a provider bug or outage: every watch in the batch failed
                message = f"{type(err).__name__}: {err}"
                paused = bool(getattr(err, "pauses_polling", False))
                results = {s.key: ReadError(message, paused=paused) for s in batch}
            for spec in batch:
                if self._stopping:
                    break  # unapplied reads are simply read again by the next owner
                result = results.get(spec.key, ReadError("not read"))
                now = time.time()
                try:
                    await self._apply(provider, spec, result, now)
                except Exception as err:
                    # Back off like a failed read: an apply that keeps failing (a bug, a record
                    # that cannot be written) must not re-poll in a tight loop.
                    log.exception("applying a watch read failed", key=spec.key, error=str(err))
                    slot = self._slots.get(spec.key)
                    if slot is not None:
                        bounds = provider.interval_bounds(spec.resource)
                        slot.after_failure(now, bounds, self.settings)
        finally:
            self._polls -= 1
            for spec in batch:
                self._inflight.discard(spec.key)
                slot = self._slots.get(spec.key)
                if slot is not None and slot.polled:
                    self._due.push(spec.key, max(slot.next_at, time.time()))
            self._wake.set()

    async def _discovery_loop(self) -> None:
        while not self._stopping:
            for provider in self.providers.values():
                try:
                    async for spec in provider.discover():
                        if spec.key not in self.store.entries:
                            await self.add(spec)
                except Exception as err:
                    log.warning("watch discovery failed", provider=provider.name, error=str(err))
            await asyncio.sleep(self.settings.discovery_interval)

    # -- pauses and age --------------------------------------------------------------------------

    def _is_paused(self, provider: str, now: float) -> bool:
        paused = False
        if self.paused is not None:
            try:
                paused = bool(self.paused(provider))
            except Exception:
                log.exception("paused() failed; polling as usual", provider=provider)
        since = self._paused_since.get(provider)
        if paused and since is None:
            self._paused_since[provider] = now
        elif not paused and since is not None:
            self._paused_total[provider] = self._paused_total.get(provider, 0.0) + now - since
            del self._paused_since[provider]
        return paused

    def _pause_clock(self, provider: str, now: float) -> float:
        """Seconds this replica has seen `provider` paused, the current pause included."""
        since = self._paused_since.get(provider)
        return self._paused_total.get(provider, 0.0) + (now - since if since is not None else 0.0)

    def _expires_at(self, record: WatchRecord, slot: Slot, now: float) -> float:
        base = record.expires_at or record.armed_at + self.settings.max_age
        return base + self._pause_clock(slot.provider, now) - slot.pause_base

    def _fold_pause(self, record: WatchRecord, slot: Slot | None, now: float) -> None:
        """Write the pause time seen so far into the record's deadline (it survives a hand-over)."""
        if slot is None:
            return
        record.expires_at = self._expires_at(record, slot, now)
        slot.pause_base = self._pause_clock(slot.provider, now)

    # -- one read --------------------------------------------------------------------------------

    async def _apply(
        self, provider: Provider, spec: WatchSpec, result: Reading | ReadError, now: float
    ) -> None:
        key = spec.key
        slot = self._slots.get(key)
        # Drop the result when the watch vanished or we no longer hold its shard (hand-over).
        if slot is None or not self.leases.owns_key(key):
            return
        cached = self.store.cached(key)
        if cached is None:
            return
        record, rev = cached
        if record.done or not record.polled or record.spec != spec:
            return  # removed, or re-armed with other facets/parents meanwhile: read again
        bounds = provider.interval_bounds(spec.resource)
        if isinstance(result, ReadError):
            if result.paused:
                slot.after_pause(now, self.settings)
            elif result.not_found:
                await self._not_found(provider, record, rev, result, slot, bounds, now)
            else:
                await self._failed(provider, record, rev, result, slot, bounds, now)
            return
        observations = provider.observe(spec, result)
        own, foreign = _split(spec, observations)
        refs = list(record.refs)
        for (resource, id), seen in foreign.items():
            ref = await self._forward(provider, spec, resource, id, seen, now)
            if ref not in refs:
                refs.append(ref)
        after = self.outbox.last_seq
        events = stage_changes(record, provider, own, self.subjects, now, after_seq=after)
        changed = bool(events)
        terminal = provider.is_terminal(spec, observations)
        if record.stalled:
            log.info("watch readable again", key=key, failures=record.failures)
            events.append(
                stage_lifecycle(
                    record,
                    provider,
                    self.subjects,
                    "recovered",
                    episode=record.stalls,
                    now=now,
                    after_seq=after,
                    failures=record.failures,
                )
            )
        dirty = events or terminal or record.failures or record.not_found or refs != record.refs
        if dirty:
            record.outbox.extend(events)
            record.refs = refs
            record.failures, record.stalled = 0, False
            record.not_found, record.first_not_found_at = 0, None
            if terminal:
                record.done, record.done_reason, record.done_at = True, "terminal", now
            if not await self._commit(record, rev, slot, now):
                return
            self._note_detected(key, events, slot.last_read_at)
            await self._flush(key, fresh={e.id for e in events})
        slot.after_read(now, bounds, self.settings, changed=changed)

    async def _forward(
        self,
        provider: Provider,
        via: WatchSpec,
        resource: str,
        id: str,
        observations: list[Observation],
        now: float,
    ) -> str:
        """Stage what `via`'s read showed of another resource in THAT resource's record."""
        project = next((o.project_id for o in observations if o.project_id), None)
        owner = WatchSpec(
            provider=provider.name,
            resource=resource,
            id=id,
            parents={"projectId": project} if project else {},
            origin="reference",
            trace=via.trace,
        )
        key = owner.key
        loaded = self.store.cached(key)
        for _ in range(10):
            if loaded is None:
                loaded = await self.store.load(key)
            record, rev = (
                loaded if loaded is not None else (WatchRecord(spec=owner, polled=False), None)
            )
            after = self.outbox.last_seq
            events = stage_changes(
                record, provider, observations, self.subjects, now, after_seq=after
            )
            if not events:
                return key
            record.outbox.extend(events)
            if not record.polled:  # nobody polls it: it is finished when what we saw is
                done = provider.is_terminal(record.spec, observations)
                record.done, record.done_at = done, (now if done else None)
                record.done_reason = "terminal" if done else None
            self._bound(record)
            try:
                await self.store.save(record, rev)
            except Conflict:
                loaded = None
                continue
            await self._flush(key, fresh={e.id for e in events})
            return key
        raise Conflict(key)

    async def _not_found(
        self,
        provider: Provider,
        record: WatchRecord,
        rev: int,
        error: ReadError,
        slot: Slot,
        bounds: tuple[float, float],
        now: float,
    ) -> None:
        """A 404 is evidence, not proof: the watch ends (`watch.gone`) only after `gone_after`
        in a row spread over `gone_min_seconds` (a read just after a create, a misrouted
        ingress, a list that no longer shows the item all answer 404 once)."""
        key = record.spec.key
        record.not_found += 1
        if record.first_not_found_at is None:
            record.first_not_found_at = now
        spread = now - record.first_not_found_at
        s = self.settings
        gone = record.not_found >= s.gone_after and spread >= s.gone_min_seconds
        log.info("watched resource answered 404", key=key, times=record.not_found, gone=gone)
        events: list[PendingEvent] = []
        if gone:
            events.append(
                stage_lifecycle(
                    record,
                    provider,
                    self.subjects,
                    "gone",
                    episode=record.armed_at,
                    now=now,
                    after_seq=self.outbox.last_seq,
                    notFound=record.not_found,
                    lastError=error.message,
                )
            )
            record.done, record.done_reason, record.done_at = True, "gone", now
            record.outbox.extend(events)
        slot.after_not_found(now, bounds, s, times=record.not_found)
        if await self._commit(record, rev, slot, now) and events:
            await self._flush(key, fresh={e.id for e in events})

    async def _failed(
        self,
        provider: Provider,
        record: WatchRecord,
        rev: int,
        error: ReadError,
        slot: Slot,
        bounds: tuple[float, float],
        now: float,
    ) -> None:
        key = record.spec.key
        slot.after_failure(now, bounds, self.settings, retry_after=error.retry_after)
        log.info("watch read failed", key=key, failures=slot.failures, error=error.message)
        if slot.failures >= self.settings.stall_after and not record.stalled:
            event = stage_stall(
                record,
                provider,
                self.subjects,
                failures=slot.failures,
                last_error=error.message,
                now=now,
                after_seq=self.outbox.last_seq,
            )
            record.outbox.append(event)
            if await self._commit(record, rev, slot, now):
                log.warning("watch stalled", key=key, failures=slot.failures)
                if self.metrics is not None:
                    self.metrics.watch_stalled()
                await self._flush(key, fresh={event.id})

    async def _end(self, key: str, reason: str) -> None:
        """End a watch that passed its max age: one `watch.expired`."""
        try:
            cached = self.store.cached(key)
            slot = self._slots.get(key)
            if cached is None or slot is None:
                return
            record, rev = cached
            provider = self.providers.get(record.spec.provider)
            if provider is None or record.done:
                return
            now = time.time()
            event = stage_lifecycle(
                record,
                provider,
                self.subjects,
                reason,
                episode=record.armed_at,
                now=now,
                after_seq=self.outbox.last_seq,
                maxAgeSeconds=self.settings.max_age,
            )
            record.outbox.append(event)
            record.done, record.done_reason, record.done_at = True, reason, now
            if await self._commit(record, rev, slot, now):
                log.info("watch ended", key=key, reason=reason)
                await self._flush(key, fresh={event.id})
        except Exception:
            log.exception("ending a watch failed", key=key)
            slot = self._slots.get(key)
            if slot is not None:
                self._due.push(key, time.time() + FLUSH_RETRY[0])
        finally:
            self._inflight.discard(key)

    def _retire_due(self, now: float) -> None:
        while self._retire and self._retire[0][0] <= now:
            _, key = heapq.heappop(self._retire)
            self._spawn(self._delete_finished(key, now), f"retire-{key}")

    async def _delete_finished(self, key: str, now: float) -> None:
        """Delete a finished record once it is older than `retain_done_seconds` (CAS delete)."""
        entry = self.store.entries.get(key)
        if entry is None or not self.leases.owns_key(key):
            return
        record = WatchRecord.decode(entry.value)
        if not record.done or record.outbox or record.done_at is None:
            return
        if now - record.done_at < self.settings.retain_done_seconds:
            return
        with contextlib.suppress(Conflict, Exception):
            await self.store.delete(key, last=entry.revision)

    async def _commit(
        self, record: WatchRecord, rev: int, slot: Slot | None = None, now: float | None = None
    ) -> bool:
        """CAS-write. On conflict refresh the mirror and drop the result."""
        if not self.leases.owns_key(record.spec.key, margin=self.settings.lease_seconds / 10):
            return False
        self._fold_pause(record, slot, now if now is not None else time.time())
        self._bound(record)
        try:
            await self.store.save(record, rev)
            return True
        except Conflict:
            log.info("watch record changed under us, result dropped", key=record.spec.key)
            await self.store.get(record.spec.key)
            return False

    def _bound(self, record: WatchRecord) -> None:
        """Keep a record writable: an event too large for NATS, or an outbox too large for a KV
        value, carries a trimmed snapshot (`snapshotTruncated`) instead of failing every write."""
        limit = self._record_limit()
        event_limit = self.settings.max_event_bytes or limit // 2
        record.outbox = [bound_event(e, event_limit) for e in record.outbox]
        if len(record.encode()) > limit:
            record.outbox = [bound_event(e, 0) for e in record.outbox]
        if len(record.encode()) > limit:  # still too large: the states themselves
            raise ValueError(f"watch record {record.spec.key} exceeds {limit} bytes")

    def _record_limit(self) -> int:
        if self.settings.max_record_bytes:
            return self.settings.max_record_bytes
        nc = getattr(self.js, "_nc", None)
        payload = int(getattr(nc, "max_payload", 0) or 1024 * 1024)
        return max(8192, payload - RECORD_HEADROOM)

    async def _flush(self, key: str, *, fresh: set[str] | None = None, retry: bool = False) -> None:
        """Publish the staged events in order, then clear them with a CAS write.

        Only events this call staged a moment ago (`fresh`) go out unchecked; any other may have
        gone out before and is looked up first. When that cannot be told, nothing is sent and
        the flush is retried later (fail closed)."""
        if key in self._flushing:
            return
        self._flushing.add(key)
        fresh = set(fresh or ())
        try:
            for _ in range(5):
                entry = self.store.entries.get(key) or await self.store.get(key)
                if entry is None:
                    self._detected.pop(key, None)
                    return
                record, rev = WatchRecord.decode(entry.value), entry.revision
                if not record.outbox:
                    self._detected.pop(key, None)  # published elsewhere (e.g. by a new shard owner)
                    return
                for event in record.outbox:
                    record.last_seq = await self.outbox.settle(event, fresh=event.id in fresh)
                    fresh.discard(event.id)  # sent: a retry of this loop must look it up
                published_at = time.time()
                published, record.outbox = record.outbox, []
                # Taken before the write: a finished record's write forgets the key's slot.
                detected = self._detected.get(key, {})
                try:
                    await self.store.save(record, rev)
                except Conflict:
                    await self.store.get(key)
                    continue
                self._detected.pop(key, None)
                self._flush_failures.pop(key, None)
                self._count(published, detected, published_at)
                return
        except OutboxError as err:
            log.warning("staged events kept, will retry", key=key, error=str(err))
            self._retry_flush(key)
        except Exception as err:  # NATS or KV trouble: never let it end a pass, or the start
            log.warning("flushing staged events failed, will retry", key=key, error=repr(err))
            self._retry_flush(key)
        finally:
            self._flushing.discard(key)

    def _retry_flush(self, key: str) -> None:
        if key not in self._slots:
            return  # another replica's record (a forwarded change): its owner flushes it
        n = self._flush_failures.get(key, 0) + 1
        self._flush_failures[key] = n
        low, high = FLUSH_RETRY
        self._due.push(key, time.time() + min(high, low * 2 ** min(n - 1, 16)))
        self._wake.set()

    def _note_detected(
        self, key: str, events: Sequence[PendingEvent], previous_read_at: float | None
    ) -> None:
        """Remember, for detection latency, the read before the poll that staged `events`.

        Only changes seen by a poll that had a previous read on this replica count: a first
        sighting (or a watch taken over, or re-armed) has no "before" to measure from.
        """
        if self.metrics is None or previous_read_at is None or not events:
            return
        self._detected.setdefault(key, {}).update((e.id, previous_read_at) for e in events)

    def _count(
        self, published: Sequence[PendingEvent], detected: dict[str, float], published_at: float
    ) -> None:
        if self.metrics is None:
            return
        for event in published:
            previous = detected.get(event.id)
            self.metrics.observe_event_published(
                event.payload.get("type", ""),
                previous_poll_at=previous,
                published_at=published_at if previous is not None else None,
            )

    def _report(self) -> None:
        if self.metrics is None:
            return
        snap = self.stats()
        for resource, count in self._active.items():
            self.metrics.set_watches_active(resource, count)
        self.metrics.set_poll_lag(snap.max_poll_lag)


def _split(
    spec: WatchSpec, observations: Sequence[Observation]
) -> tuple[list[Observation], dict[tuple[str, str], list[Observation]]]:
    """The observations of the watched resource itself, and those of others by (resource, id)."""
    own: list[Observation] = []
    foreign: dict[tuple[str, str], list[Observation]] = {}
    for obs in observations:
        if (obs.resource == spec.resource and obs.id in (spec.id, "")) or not obs.id:
            own.append(obs)
        else:
            foreign.setdefault((obs.resource, obs.id), []).append(obs)
    return own, foreign


def describe(record: WatchRecord) -> dict[str, Any]:
    """One watch as `admin.watches` lists it (camelCase, like the rest of the wire)."""
    spec = record.spec
    return {
        "provider": spec.provider,
        "resource": spec.resource,
        "id": spec.id,
        "projectId": spec.parents.get("projectId"),
        "state": record.state,
        "polled": record.polled,
        "facets": list(spec.facets) if spec.facets is not None else None,
        "origin": spec.origin,
        "statuses": {k.rsplit(":", 1)[-1]: v.status for k, v in record.states.items()},
        "failures": record.failures,
        "notFound": record.not_found,
        "stalls": record.stalls,
        "refs": [r.split(".", 2)[-1] for r in record.refs],
        "armedAt": record.armed_at,
        "expiresAt": record.expires_at,
        "doneReason": record.done_reason,
        "doneAt": record.done_at,
        "pendingEvents": len(record.outbox),
        "shard": shard_of_key(spec.key),
    }


def _merge(
    old: WatchSpec,
    new: WatchSpec,
    defaults: Callable[[WatchSpec], tuple[str, ...]] | None = None,
) -> WatchSpec:
    """Union of facets and parents; the original origin is kept. `None` means the provider's
    defaults: merged with an explicit list it is spelt out through `defaults(spec)` (the provider's
    optional `default_facets`), so a facet outside the defaults (a recast's `cast`, an `sfx` cue)
    is not lost to an earlier `watch.add`; without `defaults`, `None` absorbs the list."""
    facets: tuple[str, ...] | None
    parents = {**old.parents, **new.parents}
    if old.facets is None and new.facets is None:
        facets = None
    elif old.facets is None or new.facets is None:
        if defaults is None:
            facets = None
        else:
            spelt = [
                s.facets
                if s.facets is not None
                else tuple(defaults(s.model_copy(update={"parents": parents})))
                for s in (old, new)
            ]
            facets = tuple(dict.fromkeys((*spelt[0], *spelt[1])))
    else:
        facets = tuple(dict.fromkeys((*old.facets, *new.facets)))
    origin = old.origin if old.origin != "reference" else new.origin
    return old.model_copy(update={"facets": facets, "parents": parents, "origin": origin})
