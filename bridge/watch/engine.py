"""The provider-neutral watch engine: poll what this replica owns, publish each change once.

Assembled from one module per concern: `dispatch` (records -> read units, the poll budget, each
tick's reads; the policy itself in `policy`), `reads` (applying a read: changes, 404s, failures,
forwarded observations), `flush` (CAS writes and the outbox). This module holds the lifecycle:
leases -> shard mirrors, `add`/`remove`, the loops, and what readiness and metrics read.

Scale: a replica mirrors only the shards it holds; reads come from per-provider lanes (heaps of
read units), so an idle tick costs a few peeks; finished records are out of every heap and only
wait for their deletion.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from bridge.names import Subjects
from bridge.watch import admin
from bridge.watch.dispatch import POLLS_IN_FLIGHT, ScheduleMixin
from bridge.watch.lease import Leases
from bridge.watch.model import SHARDS, Listing, Sighting, WatchRecord, WatchSpec, merge_specs
from bridge.watch.outbox import Outbox
from bridge.watch.provider import Provider
from bridge.watch.reads import APPLY_CONCURRENCY, fingerprint_of
from bridge.watch.scheduler import DueQueue
from bridge.watch.settings import WatchSettings
from bridge.watch.state import log
from bridge.watch.store import Conflict, Store

__all__ = ["POLLS_IN_FLIGHT", "EngineStats", "WatchEngine"]

STOP_TIMEOUT = 10.0  # longest stop() waits for its tasks
ADD_ATTEMPTS = 10  # conflicting writes add() takes before it raises
RELEASE_TIMEOUT = 5.0  # longest stop() spends handing its shards back


@dataclass(frozen=True)
class EngineStats:
    """For readiness and metrics: the records of the shards this replica holds."""

    active: int
    owned: int
    stalled: int
    max_poll_lag: float
    by_kind: dict[str, int]


class WatchEngine(ScheduleMixin):
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
        surfaced: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings or WatchSettings()
        self.surfaced = surfaced
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
        self._slots = {}  # active or outboxed records of the shards we hold
        self._due = DueQueue()
        self._planners = {}
        self._retire = []  # (delete after, key) of finished records
        self._retire_at = {}
        self._active = Counter()  # active records held, by resource
        self._stalled = set()
        self._outboxed = set()
        self._flush_failures = {}
        self._unsettled = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._work = set()
        self._inflight = set()  # keys being read right now (never polled twice at once)
        self._polls = 0  # read batches under way
        self._flushing = set()
        self._paused_since = {}
        self._paused_total = {}
        # Detection latency: key -> {staged event id: the watch's previous read before the change}.
        self._detected = {}
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
        if release:
            # First, and bounded on its own: waiting for the tasks first let the runtime's stop
            # timeout cut this short, and the next replica then waited a whole lease for shards
            # that were free. A task still finishing a write after this loses its CAS, as a
            # replica that lost its lease mid-poll does.
            try:
                await asyncio.wait_for(self.leases.release_all(), RELEASE_TIMEOUT)
            except Exception as err:
                log.error("shards not released at stop; they free at lease expiry", error=repr(err))
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
        await self.store.stop()
        self._forget_all()

    def _forget_all(self) -> None:
        self._slots.clear()
        self._due = DueQueue()
        self._planners.clear()
        self._retire.clear()
        self._retire_at.clear()
        for key in list(self._unsettled):
            self._forget_unsettled(key)
        self._flush_failures.clear()
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

    # -- public ----------------------------------------------------------------------------------

    async def add(self, spec: WatchSpec, *, read_now: bool = True, only_new: bool = False) -> None:
        """Watch `spec` (idempotent). A finished watch of the same resource is re-armed, keeping its
        facet states, so the chain of previousStatus continues and nothing is re-published.
        `read_now=False`: the caller holds a read of it (a discovery page) and applies it.
        `only_new` (discovery): a resource watched, finished, removed or expired is left alone;
        only one never watched (or so far only seen inside another watch's reads) is armed. The
        mirror shows only this replica's shards, so the record itself must say it."""
        if spec.provider not in self.providers:
            raise ValueError(f"unknown watch provider {spec.provider!r}")
        for _ in range(ADD_ATTEMPTS):
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
                if only_new and (record.polled or record.done):
                    return
                defaults = getattr(self.providers[spec.provider], "default_facets", None)
                if record.polled:
                    merged = merge_specs(record.spec, spec, defaults)
                else:  # a resource so far only observed through another watch: now asked for
                    merged = merge_specs(
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
        else:
            # Answering ok with no watch would be a silent give-up: the command is retried
            # (EngineWatches turns this into WatchStartFailed, a retryable outcome).
            self._surface("watch_add_conflicts", key=spec.key)
            raise Conflict(f"watch {spec.key}: {ADD_ATTEMPTS} conflicting writes in a row")
        slot = self._slots.get(spec.key)
        planner = self._planners.get(spec.provider)
        if read_now and slot is not None and slot.polled and planner is not None:
            planner.want(slot.group or spec.key, time.time())  # due at once
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
        lag = self._poll_lag(time.time())
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
        return await admin.list_watches(
            self.js,
            self.store,
            provider=provider,
            resource=resource,
            state=state,
            cursor=cursor,
            limit=limit,
        )

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

    async def _discovery_loop(self) -> None:
        """A sweep at start, then one every interval, or back to back when a sweep (paced to its
        share of the poll budget by the provider) takes longer: the interval stretches, said once
        in the log and in `storybridge_discovery_stretched_total`."""
        told = False
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = loop.time()
            for provider in self.providers.values():
                served: dict[str, set[str]] = {}  # read unit -> its members a listing served
                try:
                    async for found in provider.discover():
                        if isinstance(found, Listing):
                            await self._listed(provider, found, served)
                        elif found.key not in self.store.entries:
                            await self.add(found, only_new=True)
                except Exception as err:
                    log.warning("watch discovery failed", provider=provider.name, error=str(err))
            took = loop.time() - started
            interval = self.settings.discovery_interval
            if self.metrics is not None:
                self.metrics.observe_discovery_sweep(took, stretched=took > interval)
            if took > interval and not told:
                told = True
                log.warning(
                    "discovery interval stretched: a sweep at its budget share takes longer",
                    sweep_seconds=round(took, 1),
                    interval_seconds=interval,
                )
            await asyncio.sleep(max(0.0, interval - took))

    async def _listed(
        self, provider: Provider, listing: Listing, served: dict[str, set[str]]
    ) -> None:
        """A discovery page applied as one read of every watch it holds, and of the ones it starts
        (a job page a sweep read is a poll of those jobs). Its keys are held in flight meanwhile,
        so no poll of them starts while it is applied; a read unit every member of which a page
        of this sweep served (`served`) waits for its next read from now. The other members of
        the units it touches are held too: a watch the page starts joins its unit due at once,
        and that must not poll the members an earlier page of this sweep has just served."""
        fresh = [s for s in listing.sightings if s.spec.key not in self._inflight]
        claimed = {s.spec.key for s in fresh}
        planner = self._planners.get(provider.name)
        if planner is not None:
            for sighting in fresh:
                unit = planner.units.get(provider.batch_key(sighting.spec) or sighting.spec.key)
                if unit is not None and not unit.busy:
                    claimed.update(k for k in unit.members if k not in self._inflight)
        self._inflight.update(claimed)
        try:
            for sighting in fresh:
                if sighting.wanted and sighting.spec.key not in self.store.entries:
                    await self.add(sighting.spec, read_now=False, only_new=True)
            gate = asyncio.Semaphore(APPLY_CONCURRENCY)

            async def one(sighting: Sighting) -> str | None:
                async with gate:
                    return await self._apply_listed(provider, sighting)

            applied = await asyncio.gather(*(one(s) for s in fresh))
        finally:
            self._inflight.difference_update(claimed)
        if planner is None:  # the page's first watch of this provider may have made it
            planner = self._planners.get(provider.name)
        if planner is None:
            return
        now = time.time()
        for key in applied:
            slot = self._slots.get(key) if key is not None else None
            unit_id = (slot.group or key) if slot is not None else None
            unit = planner.units.get(unit_id) if unit_id is not None else None
            if key is None or unit_id is None or unit is None:
                continue
            members = served.setdefault(unit_id, set())
            members.add(key)
            if members.issuperset(unit.members):
                slots = [s for k in unit.members if (s := self._slots.get(k)) is not None]
                planner.served(unit_id, now, min((s.next_at for s in slots), default=now))

    async def _apply_listed(self, provider: Provider, sighting: Sighting) -> str | None:
        """One listed item as a read of its watch; its key when it served one."""
        key = sighting.spec.key
        slot = self._slots.get(key)
        cached = self.store.cached(key)
        if (
            slot is None
            or cached is None
            or not slot.polled
            or key in self._outboxed
            or not self.leases.owns_key(key)
        ):
            return None  # not ours, finished, or waiting for its outbox: left to the poll
        spec, now = cached[0].spec, time.time()
        fp = fingerprint_of(provider, spec, sighting.reading)
        if self._unchanged(key, slot, fp):
            slot.after_read(now, slot.floor)
        else:
            await self._apply_one(provider, spec, sighting.reading, fp)
        return key

    def _report(self) -> None:
        if self.metrics is None:
            return
        snap = self.stats()
        for resource, count in self._active.items():
            self.metrics.set_watches_active(resource, count)
        self.metrics.set_poll_lag(snap.max_poll_lag)
