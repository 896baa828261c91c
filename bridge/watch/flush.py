"""Writing watch records and publishing their outboxes: the exactly-once half of the engine.

Per change: (1) CAS-write the record with the new facet states AND the staged events (outbox),
(2) publish them in order with `Nats-Msg-Id` = event id, checking each ack (or, for an event that
may have gone out before, looking it up in the stream first), (3) CAS-write the record with the
outbox cleared. A crash anywhere re-runs (2)-(3) from KV on the next owner; a replica that lost
its lease mid-poll fails its CAS at (1) and drops what it read.
"""

from __future__ import annotations

import contextlib
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
            # Every try lost its CAS to another writer: the events stay staged, so the key must
            # be flushed again, or the watch would stay frozen until a shard reload.
            self._surface("flush_conflicts", key=key)
            self._retry_flush(key)
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
            if (delay := event_delay(event, published_at)) is not None:
                self.metrics.observe_event_delay(*delay)

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
