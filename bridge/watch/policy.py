"""The poll policy: which read the next API call of the poll budget goes to.

Every active watch belongs to one *unit*, the watches one read serves: a provider's batch key (a
project's job listing reads up to 100 of them) or the watch alone. Units wait in *lanes*, one per
(class, floor): a heap by the moment the unit may next be read. The class is the provider's odds
of change (`Provider.poll_class`): HOT (work in flight: a running job, a rendering video), NORMAL
(queued, or not read yet), COLD (waiting for a person, or finished and still watched), weighted
4, 2 and 1; the floor is the docs' minimum interval of the resource (COLD: its maximum).

Per provider a token bucket fills at the poll budget (`Provider.poll_capacity`: the calls per
second its rate budget leaves polls right now, commands' use taken off) and holds at most one
second of it (an API second: intervals scaled, as in the benchmarks, scale it too). While a token is there, the due lane head with the highest weight x (waited /
floor) is read. So when the budget covers every unit at its floor, each is read at its floor; when
it does not, all lanes stretch together, a class of weight w read w-proportionally often. Nothing
stretches because nothing changed: an unchanged unit is as likely to change next as it was.

The bound: U units of one call each under a budget of B calls per second cannot be read more
often than every max(floor, U / B) seconds; a change at a random moment waits half that on
average and 0.95 of it at the 95th percentile (plus the read itself).

Pure: no I/O and no clock of its own (the engine passes `now`), so the tests drive it by hand.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

HOT, NORMAL, COLD = 0, 1, 2
WEIGHTS = (4.0, 2.0, 1.0)

Lane = tuple[int, float]  # (class, floor seconds)
STALE_FACTOR = 2  # heap entries kept per live unit before the lanes are rebuilt
STALE_SLACK = 64


@dataclass(slots=True, eq=False)
class Unit:
    """The watches one read serves, and when that read may happen next."""

    id: str
    members: dict[str, Lane] = field(default_factory=dict)  # key -> its own (class, floor)
    lane: Lane = (NORMAL, 0.0)  # the most urgent member's class, the smallest floor
    not_before: float = 0.0
    last_read: float | None = None
    busy: bool = False
    soonest: float = math.inf  # asked for while busy: due at once after the read
    version: int = 0  # heap entries of another version are stale


class Planner:
    """The units of one provider, their lanes, and the provider's poll-budget bucket."""

    def __init__(self) -> None:
        self.units: dict[str, Unit] = {}
        self._lanes: dict[Lane, list[tuple[float, int, str]]] = {}
        self._versions = itertools.count(1)
        self._lane_cache: dict[Lane, Lane] = {}
        self._entries = 0  # heap entries over every lane, stale ones included
        self.tokens = 1.0
        self.rate = math.inf  # calls per second; inf: no budget known, floors alone decide
        self._filled_at: float | None = None

    def __len__(self) -> int:
        return len(self.units)

    # -- membership ------------------------------------------------------------------------------

    def place(self, key: str, unit_id: str, klass: int, floor: float, due: float) -> None:
        """`key` is an active watch of `unit_id` with odds `klass`; it wants a read at `due`."""
        lane = self._lane_cache.setdefault((klass, floor), (klass, floor))
        unit = self.units.get(unit_id)
        if unit is None:
            unit = self.units[unit_id] = Unit(unit_id, lane=lane, not_before=due)
            unit.members[key] = lane
            self._queue(unit)
            return
        old = unit.members.get(key)
        unit.members[key] = lane
        before = unit.lane
        if old is not None and old != lane and (old[0] == before[0] or old[1] == before[1]):
            unit.lane = _best(unit.members.values())
        else:
            unit.lane = (min(before[0], klass), min(before[1], floor))
        self.want(unit_id, due, requeue=unit.lane != before)

    def drop(self, key: str, unit_id: str) -> None:
        unit = self.units.get(unit_id)
        if unit is None or unit.members.pop(key, None) is None:
            return
        if not unit.members:
            del self.units[unit_id]  # its heap entry is skipped as stale
            self._maybe_compact()  # watches that finish push nothing: check here too
            return
        best = _best(unit.members.values())
        if best != unit.lane:
            unit.lane = best
            if not unit.busy:
                self._queue(unit)

    def want(self, unit_id: str, due: float, *, requeue: bool = False) -> None:
        """Read `unit_id` no later than `due` (a new member, `watch.add`: at once)."""
        unit = self.units.get(unit_id)
        if unit is None:
            return
        if unit.busy:
            unit.soonest = min(unit.soonest, due)
        elif due < unit.not_before or requeue:
            unit.not_before = min(unit.not_before, due)
            self._queue(unit)

    def done(self, unit_id: str, now: float, due: float) -> None:
        """A read of `unit_id` finished at `now`; the next one may come at `due`."""
        unit = self.units.get(unit_id)
        if unit is None:
            return
        unit.busy = False
        unit.last_read = now
        unit.not_before = min(due, unit.soonest)
        unit.soonest = math.inf
        self._queue(unit)

    def served(self, unit_id: str, now: float, due: float) -> None:
        """Every member of `unit_id` was just read by someone else (a discovery listing): its
        next read may wait until `due`. A unit being read is left to that read."""
        unit = self.units.get(unit_id)
        if unit is None or unit.busy:
            return
        unit.last_read = now
        if due > unit.not_before:
            unit.not_before = due
            self._queue(unit)

    # -- the budget ------------------------------------------------------------------------------

    def refill(self, now: float, rate: float, bank: float = 1.0) -> None:
        """Add what `rate` calls per second earned since the last refill, up to `bank` seconds
        of it (the engine passes one API second: with intervals scaled, a wall second banked
        would let a burst of many API seconds' calls into the key's rolling window)."""
        if not math.isfinite(rate):
            self.rate, self.tokens, self._filled_at = math.inf, math.inf, now
            return
        if not math.isfinite(self.tokens):
            self.tokens = 1.0
        elapsed = 0.0 if self._filled_at is None else max(0.0, now - self._filled_at)
        self.rate = max(0.0, rate)
        # At most `bank` seconds of budget banked (a call at least); none while there is none.
        cap = max(1.0, self.rate * bank) if self.rate > 0 else 0.0
        self.tokens = min(cap, self.tokens + self.rate * elapsed)
        self._filled_at = now

    def take(self, now: float, limit: int) -> list[Unit]:
        """Units to read now, most urgent first, while the budget has a call and `limit` allows."""
        out: list[Unit] = []
        while len(out) < limit and self.tokens >= 1.0:
            best: tuple[float, Lane] | None = None
            for lane, heap in self._lanes.items():
                head = self._head(lane, heap)
                if head is None or head.not_before > now:
                    continue
                floor = max(lane[1], 1e-6)
                score = WEIGHTS[lane[0]] * (now - head.not_before + floor) / floor
                if best is None or score > best[0]:
                    best = (score, lane)
            if best is None:
                break
            _, _, unit_id = heapq.heappop(self._lanes[best[1]])
            self._entries -= 1
            unit = self.units[unit_id]
            unit.busy = True
            unit.version = next(self._versions)  # off every heap
            self.tokens -= 1.0
            out.append(unit)
        return out

    # -- when ------------------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """The earliest moment a unit may be read (None: nothing waits)."""
        heads = [
            h.not_before for lane, heap in self._lanes.items() if (h := self._head(lane, heap))
        ]
        return min(heads) if heads else None

    def token_wait(self) -> float:
        """Seconds until the bucket holds a call again (0 when it does)."""
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else math.inf

    # -- internals -------------------------------------------------------------------------------

    def _queue(self, unit: Unit) -> None:
        unit.version = next(self._versions)
        heap = self._lanes.setdefault(unit.lane, [])
        heapq.heappush(heap, (unit.not_before, unit.version, unit.id))
        self._entries += 1
        self._maybe_compact()

    def _maybe_compact(self) -> None:
        # Over all lanes, not per lane: a lane whose units moved or finished keeps its stale
        # entries until they reach the head, and under churn that is a second copy of every
        # unit ever placed. Twice the live units (plus a little, so a small planner does not
        # rebuild every few pushes) keeps the heaps in proportion at O(1) amortised per push.
        if self._entries > STALE_FACTOR * len(self.units) + STALE_SLACK:
            self._compact()

    def _head(self, lane: Lane, heap: list[tuple[float, int, str]]) -> Unit | None:
        while heap:
            _, version, unit_id = heap[0]
            unit = self.units.get(unit_id)
            if unit is not None and unit.version == version and unit.lane == lane:
                return unit
            heapq.heappop(heap)
            self._entries -= 1
        return None

    def _compact(self) -> None:
        lanes: dict[Lane, list[tuple[float, int, str]]] = {}
        for unit in self.units.values():
            if not unit.busy:
                lanes.setdefault(unit.lane, []).append((unit.not_before, unit.version, unit.id))
        for heap in lanes.values():
            heapq.heapify(heap)
        self._lanes = lanes
        self._entries = sum(len(heap) for heap in lanes.values())


def _best(lanes: Iterable[Lane]) -> Lane:
    klass, floor = COLD + 1, math.inf
    for k, f in lanes:
        klass, floor = min(klass, k), min(floor, f)
    return (min(klass, COLD), floor if math.isfinite(floor) else 0.0)
