"""Writing watch records and publishing their outboxes: the exactly-once half of the engine.

Per change: (1) CAS-write the record with the new facet states AND the staged events (outbox),
(2) publish them in order with `Nats-Msg-Id` = event id, checking each ack (or, for an event that
may have gone out before, looking it up in the stream first), (3) CAS-write the record with the
outbox cleared. A crash anywhere re-runs (2)-(3) from KV on the next owner; a replica that lost
its lease mid-poll fails its CAS at (1) and drops what it read.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence

from bridge.watch.delay import event_delay
from bridge.watch.events import bound_event
from bridge.watch.model import PendingEvent, WatchRecord
from bridge.watch.outbox import OutboxError
from bridge.watch.scheduler import Slot
from bridge.watch.state import FLUSH_RETRY, EngineState, log
from bridge.watch.store import Conflict

RECORD_HEADROOM = 4096  # bytes kept free below the server's max_payload
RETIRE_RETRY = 60.0  # a retirement that could not be done now is tried again this much later


class FlushMixin(EngineState):
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

    def _fold_pause(self, record: WatchRecord, slot: Slot | None, now: float) -> None:
        """Write the pause time seen so far into the record's deadline (it survives a hand-over)."""
        if slot is None:
            return
        base = record.expires_at or record.armed_at + self.settings.max_age
        record.expires_at = base + self._pause_clock(slot.provider, now) - slot.pause_base
        slot.pause_base = self._pause_clock(slot.provider, now)

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
        staged: tuple[str, ...] = ()
        try:
            for _ in range(5):
                entry = self.store.entries.get(key) or await self.store.get(key)
                if entry is None:
                    self._detected.pop(key, None)
                    self._forget_unsettled(key)
                    return
                record, rev = WatchRecord.decode(entry.value), entry.revision
                if not record.outbox:
                    self._detected.pop(key, None)  # published elsewhere (e.g. by a new shard owner)
                    self._forget_unsettled(key)
                    return
                staged = tuple(e.id for e in record.outbox)
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
                self._forget_unsettled(key)
                self._count(published, detected, published_at)
                return
            # Every try lost its CAS to another writer: the events stay staged, so the key must
            # be flushed again, or the watch would stay frozen until a shard reload.
            self._surface("flush_conflicts", key=key)
            self._retry_flush(key, staged)
        except OutboxError as err:
            log.warning("staged events kept, will retry", key=key, error=str(err))
            self._retry_flush(key, staged)
        except Exception as err:  # NATS or KV trouble: never let it end a pass, or the start
            log.warning("flushing staged events failed, will retry", key=key, error=repr(err))
            self._retry_flush(key, staged)
        finally:
            self._flushing.discard(key)

    def _retry_flush(self, key: str, staged: tuple[str, ...] = ()) -> None:
        if staged:
            # Kept by key so the outbox's lookup positions go when the record does.
            self._unsettled[key] = staged
        if key not in self._slots:
            # Another replica's record (a forwarded change): its owner flushes it, and nothing
            # here will ever clear what was kept for it.
            self._forget_unsettled(key)
            return
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
            if (delay := event_delay(event, published_at)) is not None:
                self.metrics.observe_event_delay(*delay)

    def _retire_due(self, now: float) -> None:
        while self._retire and self._retire[0][0] <= now:
            at, key = heapq.heappop(self._retire)
            held = self._retire_at.get(key)
            if held is None or held[0] != at:
                continue  # stale: the record moved its deadline, was re-armed or went away
            del self._retire_at[key]
            self._spawn(self._delete_finished(key, now), f"retire-{key}")

    async def _delete_finished(self, key: str, now: float) -> None:
        """Delete a record past its retirement deadline (`_retire_deadline`; CAS delete)."""
        entry = self.store.entries.get(key)
        if entry is None:
            return
        record = WatchRecord.decode(entry.value)
        deadline = self._retire_deadline(record)
        if deadline is None or now < deadline:
            return  # changed since it was scheduled: its change scheduled it again
        retry = now + RETIRE_RETRY
        if not self.leases.owns_key(key):
            # Still mirrored, so the shard is ours or about to go (which forgets the key);
            # asked again later rather than kept until a shard reload.
            if self._retire_at.get(key) is None:
                self._schedule_retire(key, retry, record.done)
            return
        try:
            await self.store.delete(key, last=entry.revision)
        except Conflict:
            pass  # written meanwhile: that change scheduled it again
        except Exception as err:
            log.warning("deleting a retired record failed, will retry", key=key, error=repr(err))
            if self._retire_at.get(key) is None:
                self._schedule_retire(key, retry, record.done)
