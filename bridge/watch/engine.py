"""The provider-neutral watch engine: poll what this replica owns, publish each change once.

Per change: (1) CAS-write the record with the new facet states AND the staged events (outbox),
(2) publish them in order with `Nats-Msg-Id` = event id, checking each ack, (3) CAS-write the record
with the outbox cleared. A crash anywhere re-runs (2)-(3) from KV on the next owner; a replica that
lost its lease mid-poll fails its CAS at (1) and drops what it read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from bridge.nats.streams import Subjects
from bridge.watch.lease import Leases
from bridge.watch.model import PendingEvent, ReadError, Snapshot, WatchRecord, WatchSpec
from bridge.watch.outbox import Outbox, PublishFailed
from bridge.watch.provider import Provider
from bridge.watch.settings import Schedule, WatchSettings
from bridge.watch.store import Conflict, Store
from bridge.watch.transition import stage_changes, stage_stall

log = structlog.get_logger(__name__)

# How soon a watch paused by an open circuit is looked at again (the probe decides when it opens).
PAUSED_RECHECK_SECONDS = 1.0

IDLE_TICK = 0.5  # longest the scheduler sleeps without being woken
STOP_TIMEOUT = 10.0  # longest stop() waits for its tasks


@dataclass(frozen=True)
class EngineSnapshot:
    """For readiness and metrics."""

    active: int
    owned: int
    stalled: int
    max_poll_lag: float
    by_kind: dict[str, int]


class WatchEngine:
    """Start it after JetStream is declared; `add()` watches, `stop()` hands the shards back."""

    def __init__(
        self,
        js: JetStreamContext,
        kv: KeyValue,
        providers: dict[str, Provider],
        subjects: Subjects | None = None,
        settings: WatchSettings | None = None,
        metrics: Any = None,
    ) -> None:
        self.settings = settings or WatchSettings()
        self.subjects = subjects or Subjects()
        self.providers = providers
        self.metrics = metrics
        self.store = Store(kv)
        self.outbox = Outbox(
            js,
            duplicate_window=self.settings.duplicate_window,
            margin=min(self.settings.window_margin, self.settings.duplicate_window / 2),
        )
        self.leases = Leases(
            self.store,
            self.settings.replica_id,
            shards=self.settings.shards,
            lease_seconds=self.settings.lease_seconds,
        )
        self.ready = False
        self._stopping = False
        self._schedules: dict[str, Schedule] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._batches: set[asyncio.Task[None]] = set()
        self._inflight: set[str] = set()  # keys being read right now (never polled twice at once)
        # Detection latency: key -> {staged event id: the watch's previous read before the change}.
        self._detected: dict[str, dict[str, float]] = {}
        self._wake = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        await self.store.start()
        await self.leases.tick()
        for record, _ in self.store.records():  # flush what a crash left staged before polling
            if record.outbox and self.leases.owns_key(record.spec.key):
                await self._flush(record.spec.key)
        self._tasks = [
            asyncio.create_task(self._lease_loop(), name="watch-leases"),
            asyncio.create_task(self._schedule_loop(), name="watch-scheduler"),
        ]
        if self.settings.discovery_interval > 0:
            self._tasks.append(asyncio.create_task(self._discovery_loop(), name="watch-discovery"))
        self.ready = True
        log.info("watch engine started", replica=self.settings.replica_id)

    async def stop(self, *, release: bool = True) -> None:
        """Stop polling; `release` hands the shards back so another replica takes over at once."""
        self.ready = False
        self._stopping = True
        tasks = [*self._tasks, *self._batches]
        for task in tasks:
            task.cancel()
        if tasks:
            # A library that turns a cancellation into an ordinary error (nats-py's publish does)
            # lets a task run on; the loops also check `_stopping`, and this wait is bounded.
            _, late = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            if late:
                log.warning("watch tasks still running at stop", tasks=[t.get_name() for t in late])
        self._tasks, self._batches = [], set()
        self._inflight.clear()
        self._detected.clear()
        if release:
            with contextlib.suppress(Exception):
                await self.leases.release_all()
        await self.store.stop()

    # -- public ----------------------------------------------------------------------------------

    async def add(self, spec: WatchSpec) -> None:
        """Watch `spec` (idempotent). A finished watch of the same resource is re-armed, keeping its
        facet states, so the chain of previousStatus continues and nothing is re-published."""
        if spec.provider not in self.providers:
            raise ValueError(f"unknown watch provider {spec.provider!r}")
        for _ in range(10):
            loaded = await self.store.load(spec.key)
            try:
                if loaded is None:
                    await self.store.save(WatchRecord(spec=spec), None)
                else:
                    record, rev = loaded
                    merged = _merge(record.spec, spec)
                    if not record.done and merged == record.spec:
                        break
                    record.spec, record.done, record.done_reason = merged, False, None
                    record.done_at = None
                    await self.store.save(record, rev)
                break
            except Conflict:
                continue
        self._schedules.pop(spec.key, None)  # due at once
        self._wake.set()

    async def remove(self, provider: str, kind: str, id: str) -> bool:
        """Stop watching. The record stays (done) so a pending outbox is still flushed."""
        key = WatchSpec(provider=provider, kind=kind, id=id).key
        for _ in range(10):
            loaded = await self.store.load(key)
            if loaded is None or loaded[0].done:
                return False
            record, rev = loaded
            record.done, record.done_reason, record.done_at = True, "removed", time.time()
            try:
                await self.store.save(record, rev)
                return True
            except Conflict:
                continue
        return False

    def snapshot(self) -> EngineSnapshot:
        now = time.time()
        active = owned = stalled = 0
        lag = 0.0
        by_kind: dict[str, int] = {}
        for record, _ in self.store.records():
            if record.done:
                continue
            active += 1
            by_kind[record.spec.kind] = by_kind.get(record.spec.kind, 0) + 1
            stalled += int(record.stalled)
            if self.leases.owns_key(record.spec.key):
                owned += 1
                sched = self._schedules.get(record.spec.key)
                if sched is not None:
                    lag = max(lag, now - sched.next_at)
        return EngineSnapshot(active, owned, stalled, max(0.0, lag), by_kind)

    # -- loops -----------------------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                await self.leases.tick()
            except Exception as err:  # NATS hiccup: our leases simply expire if it lasts
                log.warning("lease renewal failed", error=str(err))
            self._wake.set()

    async def _schedule_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._poll_due()
            except Exception:
                log.exception("watch scheduler pass failed")
            self._report()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._sleep_for())

    def _sleep_for(self) -> float:
        now = time.time()
        nexts = [s.next_at - now for k, s in self._schedules.items() if k not in self._inflight]
        return max(0.005, min([IDLE_TICK, *nexts]))

    async def _poll_due(self) -> None:
        """Start a read for every due watch we own; reads run as tasks so one slow provider (or a
        Retry-After wait inside the client) never holds up the others or the outbox flushes."""
        now = time.time()
        due: dict[str, set[str]] = {}
        pollable: dict[str, list[WatchSpec]] = {}
        records = self.store.records()
        live = {record.spec.key for record, _ in records}
        for key in [k for k in self._schedules if k not in live]:
            del self._schedules[key]
            self._detected.pop(key, None)
        busy: dict[str, set[str]] = {}  # per provider: batch keys with a read under way
        for record, _rev in records:
            key = record.spec.key
            if key in self._inflight:
                provider = self.providers.get(record.spec.provider)
                group = provider.batch_key(record.spec) if provider is not None else None
                if group is not None:
                    busy.setdefault(record.spec.provider, set()).add(group)
                continue
            if not self.leases.owns_key(key):
                self._schedules.pop(key, None)
                self._detected.pop(key, None)
                continue
            if record.outbox:
                await self._flush(key)
            if record.done:
                self._schedules.pop(key, None)
                await self._expire(record, _rev, now)
                continue
            sched = self._schedules.setdefault(key, Schedule(next_at=now, failures=record.failures))
            pollable.setdefault(record.spec.provider, []).append(record.spec)
            if sched.next_at <= now:
                due.setdefault(record.spec.provider, set()).add(key)
        for name, keys in due.items():
            provider = self.providers.get(name)
            if provider is None:
                continue
            busy_groups = busy.get(name, set())
            for batch in _batches(
                provider, pollable[name], keys, busy_groups, self.settings.batch_size
            ):
                self._inflight.update(s.key for s in batch)
                task = asyncio.create_task(self._poll_batch(provider, batch))
                self._batches.add(task)
                task.add_done_callback(self._batches.discard)

    async def _poll_batch(self, provider: Provider, batch: list[WatchSpec]) -> None:
        try:
            try:
                results = await provider.read(batch)
            except Exception as err:  # a provider bug or outage: every watch in the batch failed
                results = {s.key: ReadError(f"{type(err).__name__}: {err}") for s in batch}
            for spec in batch:
                if self._stopping:
                    break  # unapplied reads are simply read again by the next owner
                result = results.get(spec.key, ReadError("not read"))
                try:
                    await self._apply(provider, spec, result)
                except Exception:
                    log.exception("applying a watch read failed", key=spec.key)
        finally:
            self._inflight.difference_update(s.key for s in batch)
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

    # -- one read --------------------------------------------------------------------------------

    async def _apply(
        self, provider: Provider, spec: WatchSpec, result: Snapshot | ReadError
    ) -> None:
        key = spec.key
        now = time.time()
        sched = self._schedules.setdefault(key, Schedule(next_at=now))
        bounds = provider.interval_bounds(spec.kind)
        entry = self.store.entries.get(key)
        # Drop the result when the watch vanished or we no longer hold its shard (hand-over).
        if entry is None or not self.leases.owns_key(key):
            return
        record, rev = WatchRecord.decode(entry.value), entry.revision
        if record.done or record.spec != spec:
            return  # removed, or re-armed with other facets/parents meanwhile: read again
        if isinstance(result, ReadError):
            await self._failed(provider, record, rev, result, sched, bounds, now)
            return
        observations = provider.observe(spec, result)
        events = stage_changes(record, provider, observations, self.subjects, now)
        terminal = provider.is_terminal(spec, observations)
        recovered = record.stalled or record.failures > 0
        if events or terminal or recovered:
            if recovered:
                log.info("watch readable again", key=key, failures=sched.failures)
            record.outbox.extend(events)
            record.failures, record.stalled = 0, False
            if terminal:
                record.done, record.done_reason, record.done_at = True, "terminal", now
            if not await self._commit(record, rev):
                return
            self._note_detected(key, events, sched.last_read_at)
            await self._flush(key)
        sched.after_read(now, bounds, self.settings, changed=bool(events))

    async def _failed(
        self,
        provider: Provider,
        record: WatchRecord,
        rev: int,
        error: ReadError,
        sched: Schedule,
        bounds: tuple[float, float],
        now: float,
    ) -> None:
        key = record.spec.key
        if error.paused:
            # An open circuit: the account, not this resource. Ask again later, count nothing.
            sched.next_at = now + max(bounds[0], PAUSED_RECHECK_SECONDS)
            return
        if error.gone:
            log.warning("watched resource is gone, watch ended", key=key, error=error.message)
            record.done, record.done_reason, record.done_at = True, "gone", now
            await self._commit(record, rev)
            return
        sched.after_failure(now, bounds, self.settings, retry_after=error.retry_after)
        log.info("watch read failed", key=key, failures=sched.failures, error=error.message)
        if sched.failures >= self.settings.stall_after and not record.stalled:
            event = stage_stall(
                record,
                provider,
                self.subjects,
                failures=sched.failures,
                last_error=error.message,
                now=now,
            )
            record.outbox.append(event)
            if await self._commit(record, rev):
                log.warning("watch stalled", key=key, failures=sched.failures)
                if self.metrics is not None:
                    self.metrics.watch_stalled()
                await self._flush(key)

    async def _expire(self, record: WatchRecord, rev: int, now: float) -> None:
        """Delete a finished record once it is older than `retain_done_seconds` (CAS delete)."""
        if record.outbox or record.done_at is None:
            return
        if now - record.done_at < self.settings.retain_done_seconds:
            return
        with contextlib.suppress(Conflict):
            await self.store.delete(record.spec.key, last=rev)

    async def _commit(self, record: WatchRecord, rev: int) -> bool:
        """CAS-write. On conflict refresh the mirror and drop the result."""
        if not self.leases.owns_key(record.spec.key, margin=self.settings.lease_seconds / 10):
            return False
        try:
            await self.store.save(record, rev)
            return True
        except Conflict:
            log.info("watch record changed under us, result dropped", key=record.spec.key)
            await self.store.get(record.spec.key)
            self._schedules.pop(record.spec.key, None)
            return False

    async def _flush(self, key: str) -> None:
        """Publish the staged events in order, then clear them with a CAS write."""
        for _ in range(5):
            entry = self.store.entries.get(key) or await self.store.get(key)
            if entry is None:
                self._detected.pop(key, None)
                return
            record, rev = WatchRecord.decode(entry.value), entry.revision
            if not record.outbox:
                self._detected.pop(key, None)  # published elsewhere (e.g. by a new shard owner)
                return
            try:
                await self.outbox.publish_all(record.outbox, now=time.time())
            except PublishFailed as err:
                log.warning("event publish failed, kept in outbox", key=key, error=str(err))
                return
            published_at = time.time()
            published, record.outbox = record.outbox, []
            try:
                await self.store.save(record, rev)
            except Conflict:
                await self.store.get(key)
                continue
            self._count(published, self._detected.pop(key, {}), published_at)
            return

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
        snap = self.snapshot()
        for kind, count in snap.by_kind.items():
            self.metrics.set_watches_active(kind, count)
        self.metrics.set_poll_lag(snap.max_poll_lag)


def _batches(
    provider: Provider, pollable: list[WatchSpec], due: set[str], busy: set[str], size: int
) -> list[list[WatchSpec]]:
    """The due watches, plus every watch sharing a `batch_key` with one of them (the same list
    call reads them all, so polling them early costs nothing), cut into batches of about `size`
    that never split a group. Groups in `busy` have a read under way: their due members wait for
    it and go together in the next one, instead of a read each."""
    groups: dict[str | None, list[WatchSpec]] = {}
    keys = {spec.key: provider.batch_key(spec) for spec in pollable}
    wanted = {keys[key] for key in due if keys.get(key) is not None}
    for spec in pollable:
        group = keys[spec.key]
        if group is not None and group in busy:
            continue
        if spec.key in due or (group is not None and group in wanted):
            groups.setdefault(group, []).append(spec)
    batches: list[list[WatchSpec]] = []
    current: list[WatchSpec] = []
    for group, specs in groups.items():
        chunks = [specs] if group is not None else [[s] for s in specs]
        for chunk in chunks:
            if current and len(current) + len(chunk) > size:
                batches.append(current)
                current = []
            current.extend(chunk)
    if current:
        batches.append(current)
    return batches


def _merge(old: WatchSpec, new: WatchSpec) -> WatchSpec:
    """Union of facets and parents; the original origin is kept. `None` (the provider's defaults,
    which cover every facet it can follow) absorbs any explicit list."""
    facets: tuple[str, ...] | None
    if old.facets is None or new.facets is None:
        facets = None
    else:
        facets = tuple(dict.fromkeys((*old.facets, *new.facets)))
    return old.model_copy(update={"facets": facets, "parents": {**old.parents, **new.parents}})
