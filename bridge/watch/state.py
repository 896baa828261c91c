"""What the watch engine's parts share: its state, declared once, and the small helpers on it.

`WatchEngine` is assembled from mixins, one concern each (`dispatch`: the schedule and the poll
budget; `reads`: applying a read; `flush`: writing records and publishing their outboxes); this
base declares the attributes they read and write, so each module type-checks on its own.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog
from nats.js.client import JetStreamContext

from bridge.names import Subjects
from bridge.watch.lease import Leases
from bridge.watch.model import WatchRecord, key_parts
from bridge.watch.outbox import Outbox
from bridge.watch.policy import Planner
from bridge.watch.provider import Provider
from bridge.watch.scheduler import DueQueue, Slot
from bridge.watch.settings import WatchSettings
from bridge.watch.store import Store

log = structlog.get_logger("bridge.watch.engine")

FLUSH_RETRY = (0.5, 30.0)  # backoff of an outbox that could not be settled (min, max seconds)


class EngineState:
    settings: WatchSettings
    subjects: Subjects
    providers: dict[str, Provider]
    metrics: Any
    paused: Callable[[str], bool] | None
    surfaced: Callable[[str], None] | None
    js: JetStreamContext
    store: Store
    outbox: Outbox
    leases: Leases
    ready: bool
    _stopping: bool
    _slots: dict[str, Slot]  # active or outboxed records of the shards we hold
    _due: DueQueue  # per key: outbox flushes and their retries
    _planners: dict[str, Planner]  # per provider: its read units, lanes and poll budget
    _retire: list[tuple[float, str]]  # (delete after, key): entries not in _retire_at are stale
    _retire_at: dict[str, tuple[float, bool]]  # key -> (its one live deadline, finished)
    _active: Counter[str]  # active records held, by resource
    _stalled: set[str]
    _outboxed: set[str]
    _flush_failures: dict[str, int]
    _unsettled: dict[str, tuple[str, ...]]  # key -> staged event ids the outbox may resume
    _work: set[asyncio.Task[None]]
    _inflight: set[str]  # keys being read right now (never polled twice at once)
    _polls: int  # reads under way
    _flushing: set[str]
    _paused_since: dict[str, float]
    _paused_total: dict[str, float]
    _detected: dict[str, dict[str, float]]
    _wake: asyncio.Event

    # -- read by the fleet report (bridge.nats.fleet_report) -------------------------------------
    def watch_counts(self) -> dict[tuple[str, str, str], int]:
        """(provider, resource, state) -> polled watches of the shards held here: active,
        stalled, or done and kept for retention (not re-armed since)."""
        counts: Counter[tuple[str, str, str]] = Counter()
        for slot in self._slots.values():
            if slot.polled:
                state = "stalled" if slot.stalled else "active"
                counts[(slot.provider, slot.resource, state)] += 1
        for key, (_, finished) in self._retire_at.items():
            if not finished:
                continue  # an observed resource nobody watches: not a watch of any state
            held = self._slots.get(key)
            parts = key_parts(key)
            if (held is None or not held.polled) and parts is not None:
                counts[(*parts, "done")] += 1
        return dict(counts)

    @property
    def failing_records(self) -> int:
        """Records whose outbox failed to publish and waits for a retry."""
        return len(self._flush_failures)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    # -- retirement --------------------------------------------------------------------------

    def _retire_deadline(self, record: WatchRecord) -> float | None:
        """When the record may be deleted (None: not while it looks like this).

        Finished: `retain_done_seconds` after it finished. A record only forwarding created (an
        artifact seen inside a watched job, `polled` False) that never looks terminal: nobody
        polls it, so it can neither finish nor expire; it is treated as a watch would be that
        saw nothing new for `max_age` (it would have ended `watch.expired`) and then kept the
        retention like any finished record, counted from its last published change."""
        if record.outbox:
            return None
        if record.done:
            if record.done_at is None:
                return None
            return record.done_at + self.settings.retain_done_seconds
        if record.polled:
            return None
        seen = max((s.observed_at for s in record.states.values()), default=0.0)
        last = max(record.armed_at, seen)
        return last + self.settings.max_age + self.settings.retain_done_seconds

    def _schedule_retire(self, key: str, at: float, finished: bool) -> None:
        """One live heap entry per key: a change or a shard reload that leaves the deadline
        where it was pushes nothing, so the heap holds the records it retires, not their history."""
        held = self._retire_at.get(key)
        self._retire_at[key] = (at, finished)
        if held is not None and held[0] == at:
            return
        heapq.heappush(self._retire, (at, key))
        self._compact_retire()

    def _unschedule_retire(self, key: str) -> None:
        if self._retire_at.pop(key, None) is not None:  # its heap entry is skipped as stale
            self._compact_retire()

    def _compact_retire(self) -> None:
        # Stale entries (moved deadlines, re-armed, deleted or handed-over records) wait up to a
        # whole retention to reach the head; past twice the live ones, rebuild from those.
        if len(self._retire) > 2 * len(self._retire_at) + 1024:
            self._retire = [(when, k) for k, (when, _) in self._retire_at.items()]
            heapq.heapify(self._retire)

    def _forget_unsettled(self, key: str) -> None:
        """The record is gone, retired or flushed elsewhere: what this replica kept to retry
        or resume its outbox is of no use any more."""
        self._flush_failures.pop(key, None)
        ids = self._unsettled.pop(key, None)
        if ids:
            self.outbox.forget(ids)

    # -- pauses and age --------------------------------------------------------------------------

    def _surface(self, what: str, **fields: Any) -> None:
        """Work that hit a limit and is retried (never dropped without a word): an error line
        and the `storybridge_work_surfaced_total` metric."""
        log.error("watch work hit its limit; retried", what=what, **fields)
        if self.surfaced is not None:
            self.surfaced(what)

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

    def _expires_at(self, slot: Slot, now: float) -> float:
        return slot.expires_at + self._pause_clock(slot.provider, now) - slot.pause_base
