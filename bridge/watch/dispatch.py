"""The schedule: the mirror's records kept as read units, and each tick's reads under the budget.

Which unit is read when is `bridge.watch.policy`'s decision (lanes by odds of change, a token
bucket per provider filled at its poll budget); this module keeps the planners in step with the
records of the shards held (`_on_change`, called once per record change) and turns what a planner
hands out into provider reads. At most `POLLS_IN_FLIGHT` reads are under way: a backlog (far
more due units than the budget serves) waits as heap entries, not as decoded specs and tasks.
"""

from __future__ import annotations

import math
import time
from sys import intern

from bridge.watch.model import WatchRecord
from bridge.watch.policy import COLD, HOT, NORMAL, Planner, Unit
from bridge.watch.provider import Provider
from bridge.watch.reads import ReadsMixin
from bridge.watch.scheduler import Slot
from bridge.watch.state import log
from bridge.watch.store import Entry

IDLE_TICK = 0.5  # longest the scheduler sleeps without being woken
DUE_PER_TICK = 5000  # due flushes taken per tick; the rest stay due for the next one
POLLS_IN_FLIGHT = 16  # reads under way at once (one unit each: a listing or a single read)
OUTBOX_WAIT = 0.05  # a unit whose watches all wait for their outbox: looked at again this soon


class ScheduleMixin(ReadsMixin):
    # -- the mirror's view -----------------------------------------------------------------------

    def _on_change(self, key: str, entry: Entry | None) -> None:
        """Keep slots, read units and counts in step with one record of a shard we hold."""
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
            self._unplace(key, slot)
        if record is None or not record.outbox:
            self._forget_unsettled(key)
        deadline = self._retire_deadline(record) if record is not None else None
        if deadline is None or record is None:
            self._unschedule_retire(key)
        else:
            self._schedule_retire(key, deadline, finished=record.done)
        if record is None or (not active and not record.outbox):
            self._slots.pop(key, None)
            self._due.discard(key)
            self._outboxed.discard(key)
            self._stalled.discard(key)
            self._detected.pop(key, None)
            return
        now = time.time()
        spec = record.spec
        provider = self.providers.get(spec.provider)
        fresh = slot is None
        if slot is None:
            # Interned: 100,000 slots share a handful of provider and resource strings.
            slot = Slot(next_at=now, provider=intern(spec.provider), resource=intern(spec.resource))
            slot.pause_base = self._pause_clock(spec.provider, now)
            self._slots[key] = slot
        slot.expires_at = record.expires_at or record.armed_at + self.settings.max_age
        slot.fingerprint = None  # the record moved: the next read is applied in full
        if active and provider is not None:
            group = provider.batch_key(spec)
            if slot.polled and group != slot.group:
                self._unplace(key, slot)
            armed = fresh or not slot.polled  # new, or re-armed: read at once
            if not slot.polled:
                self._active[spec.resource] += 1
            slot.group = intern(group) if group is not None else None
            slot.klass = self._poll_class(provider, record)
            slot.floor = self._floor(provider, spec.resource, slot.klass)
            planner = self._planners.setdefault(spec.provider, Planner())
            # A change of an existing member (our own write, mostly) asks for no extra read.
            due = now if armed else math.inf
            planner.place(key, slot.group or key, slot.klass, slot.floor, due)
        slot.polled = active and provider is not None
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

    def _unplace(self, key: str, slot: Slot) -> None:
        planner = self._planners.get(slot.provider)
        if planner is not None:
            planner.drop(key, slot.group or key)
        slot.group = None

    def _poll_class(self, provider: Provider, record: WatchRecord) -> int:
        """The provider's odds of change for this watch (optional member `poll_class`)."""
        judge = getattr(provider, "poll_class", None)
        if judge is None:
            return NORMAL
        try:
            statuses = {k: v.status for k, v in record.states.items()}
            return min(COLD, max(HOT, int(judge(record.spec, statuses))))
        except Exception:
            log.exception("poll_class failed; polling as NORMAL", key=record.spec.key)
            return NORMAL

    def _floor(self, provider: Provider, resource: str, klass: int) -> float:
        """The docs' minimum interval (COLD: their maximum), scaled like every interval."""
        low, high = provider.interval_bounds(resource)
        return (high if klass == COLD else low) * self.settings.interval_scale

    def _poll_rate(self, provider: Provider) -> float:
        """Calls per wall second the provider's budget leaves polls now (inf: none is known)."""
        capacity = getattr(provider, "poll_capacity", None)
        if capacity is None:
            return math.inf
        try:
            per_second = capacity(self.settings.poll_budget_share)
        except Exception:
            log.exception("poll_capacity failed; polling by floors alone", provider=provider.name)
            return math.inf
        if per_second is None:
            return math.inf
        return float(per_second) / max(self.settings.interval_scale, 1e-9)

    # -- ticks -----------------------------------------------------------------------------------

    def _sleep_for(self) -> float:
        now = time.time()
        nexts = [IDLE_TICK]
        due = self._due.next_at()
        if due is not None:
            nexts.append(due - now)
        if self._polls < POLLS_IN_FLIGHT:  # else a finishing read wakes us
            for planner in self._planners.values():
                head = planner.next_due()
                if head is not None:
                    nexts.append(max(head - now, planner.token_wait()))
        if self._retire:  # a stale head only costs one early wake-up
            nexts.append(self._retire[0][0] - now)
        return max(0.005, min(nexts))

    def _tick(self) -> None:
        """Flush what is due, then start the reads each provider's planner hands out; reads run
        as tasks so one slow provider (or a Retry-After wait in a client) never holds up others."""
        now = time.time()
        self._retire_due(now)
        for key in self._due.pop_due(now, DUE_PER_TICK):
            if key in self._outboxed and key in self._slots and key not in self._flushing:
                self._spawn(self._flush(key, retry=True), f"flush-{key}")
        for name, planner in self._planners.items():
            provider = self.providers.get(name)
            if provider is None or self._is_paused(name, now):
                continue  # paused: nothing read, no clock of its watches moves
            planner.refill(now, self._poll_rate(provider), bank=self.settings.interval_scale)
            room = POLLS_IN_FLIGHT - self._polls
            if room <= 0:
                continue
            for unit in planner.take(now, room):
                self._dispatch(provider, planner, unit, now)

    def _dispatch(self, provider: Provider, planner: Planner, unit: Unit, now: float) -> None:
        specs = []
        waiting = False
        for key in list(unit.members):
            slot = self._slots.get(key)
            entry = self.store.entries.get(key)
            if slot is None or entry is None or key in self._inflight or not slot.polled:
                continue
            if key in self._outboxed:
                waiting = True  # read once its outbox is out
                continue
            if now >= self._expires_at(slot, now):
                self._inflight.add(key)
                self._spawn(self._end(key, "expired"), f"expire-{key}")
                continue
            specs.append(WatchRecord.decode(entry.value).spec)
        if not specs:
            planner.tokens += 1.0  # nothing was read: the call is not spent
            later = OUTBOX_WAIT if waiting else max(unit.lane[1], OUTBOX_WAIT)
            planner.done(unit.id, now, now + later)
            return
        self._inflight.update(s.key for s in specs)
        self._polls += 1
        self._spawn(self._poll_batch(provider, unit.id, specs), f"poll-{provider.name}")

    def _poll_lag(self, now: float) -> float:
        """How long the most overdue unit has waited past the moment it could be read."""
        heads = [h for p in self._planners.values() if (h := p.next_due()) is not None]
        return max(0.0, now - min(heads)) if heads else 0.0
