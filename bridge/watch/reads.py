"""One read applied: facet changes staged and published, 404s counted, failures backed off.

A read may show resources other than the watched one (a job embeds its artifacts): those
observations are forwarded to the resource's own record (created on first sight, not polled),
which alone holds that resource's chain, so overlapping watches never publish one transition
twice or under two ids.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from bridge.watch.flush import FlushMixin
from bridge.watch.model import (
    Observation,
    PendingEvent,
    ReadError,
    Reading,
    WatchRecord,
    WatchSpec,
)
from bridge.watch.provider import Provider
from bridge.watch.scheduler import Slot
from bridge.watch.state import FLUSH_RETRY, log
from bridge.watch.store import Conflict
from bridge.watch.transition import stage_changes, stage_lifecycle, stage_stall

APPLY_CONCURRENCY = 32  # changed watches of one read applied at once


class ReadsMixin(FlushMixin):
    async def _poll_batch(self, provider: Provider, unit_id: str, batch: list[WatchSpec]) -> None:
        try:
            try:
                results = await provider.read(batch)
            except Exception as err:  # a provider bug or outage: every watch in the batch failed
                message = f"{type(err).__name__}: {err}"
                paused = bool(getattr(err, "pauses_polling", False))
                results = {s.key: ReadError(message, paused=paused) for s in batch}
            now = time.time()
            full: list[tuple[WatchSpec, Reading | ReadError, int | None]] = []
            for spec in batch:
                result = results.get(spec.key, ReadError("not read"))
                fp = fingerprint_of(provider, spec, result)
                slot = self._slots.get(spec.key)
                if slot is not None and self._unchanged(spec.key, slot, fp):
                    slot.after_read(now, slot.floor)
                else:
                    full.append((spec, result, fp))
            # Concurrently: each change costs KV and stream round trips, and a listing that
            # shows ten changes must not make the tenth wait for nine (records are independent;
            # two writers of one forwarded record are serialised by its CAS).
            gate = asyncio.Semaphore(APPLY_CONCURRENCY)

            async def one(spec: WatchSpec, result: Reading | ReadError, fp: int | None) -> None:
                async with gate:
                    if not self._stopping:  # unapplied reads are read again by the next owner
                        await self._apply_one(provider, spec, result, fp)

            await asyncio.gather(*(one(spec, result, fp) for spec, result, fp in full))
        finally:
            self._polls -= 1
            now = time.time()
            due = float("inf")
            for spec in batch:
                self._inflight.discard(spec.key)
                slot = self._slots.get(spec.key)
                if slot is not None and slot.polled:
                    due = min(due, slot.next_at)
            planner = self._planners.get(provider.name)
            if planner is not None:
                # The unit is due when its most eager member is (a listing serves them all).
                planner.done(unit_id, now, max(now, due) if due != float("inf") else now)
            self._wake.set()

    def _unchanged(self, key: str, slot: Slot, fp: int | None) -> bool:
        """The very snapshot applied last time, with no failure or stall to recover from: the read
        only moves the watch's clock (a poll's and a discovery page's alike)."""
        return (
            fp is not None
            and slot.fingerprint == fp
            and not slot.failures
            and key not in self._stalled
        )

    async def _apply_one(
        self, provider: Provider, spec: WatchSpec, result: Reading | ReadError, fp: int | None
    ) -> None:
        now = time.time()
        try:
            await self._apply(provider, spec, result, now, fingerprint=fp)
        except Exception as err:
            # Back off like a failed read: an apply that keeps failing (a bug, a record that
            # cannot be written) must not re-poll in a tight loop.
            log.exception("applying a watch read failed", key=spec.key, error=str(err))
            slot = self._slots.get(spec.key)
            if slot is not None:
                bounds = provider.interval_bounds(spec.resource)
                slot.after_failure(now, bounds, self.settings)

    async def _apply(
        self,
        provider: Provider,
        spec: WatchSpec,
        result: Reading | ReadError,
        now: float,
        *,
        fingerprint: int | None = None,
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
        slot.after_read(now, slot.floor)
        slot.fingerprint = fingerprint

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


def fingerprint_of(provider: Provider, spec: WatchSpec, result: Reading | ReadError) -> int | None:
    """The provider's optional `fingerprint(spec, snapshot)`; None when it has none or fails."""
    if isinstance(result, ReadError):
        return None
    judge = getattr(provider, "fingerprint", None)
    if judge is None:
        return None
    try:
        value = judge(spec, result)
    except Exception:
        return None
    return int(value) if value is not None else None
