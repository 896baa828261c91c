"""The poll policy (bridge.watch.policy) driven by hand: a manual `now`, reads finished at once.

Every assertion is on counts and order under a simulated clock, never on wall time.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

from bridge.providers.story.watch.facets import poll_class
from bridge.watch.model import WatchSpec
from bridge.watch.policy import COLD, HOT, NORMAL, Planner

STEP = 0.1


def run(
    planner: Planner, seconds: float, rate: float, start: float = 0.0
) -> list[tuple[float, str]]:
    """Simulate `seconds`: refill at `rate`, take what is due, finish each read at once with the
    unit due again one floor later. Returns (moment, unit id) of every read."""
    reads: list[tuple[float, str]] = []
    now = start
    while now < start + seconds:
        planner.refill(now, rate)
        for unit in planner.take(now, limit=16):
            reads.append((now, unit.id))
            planner.done(unit.id, now, now + unit.lane[1])
        now = round(now + STEP, 6)
    return reads


def groups(n: int, klass: int = HOT, floor: float = 5.0, members: int = 100) -> Planner:
    planner = Planner()
    for g in range(n):
        for m in range(members):
            planner.place(f"w.{g}.{m}", f"job:prj_{g}", klass, floor, 0.0)
    return planner


def test_the_budget_is_never_exceeded_in_any_window_and_is_spent() -> None:
    """10 listings of 100 watches at 1.6 calls/s: at most 1.6 x 60 (+1 s of bucket) reads in any
    60 s, and at least 95 % of that spent: the budget is used, not saved."""
    reads = run(groups(10), 300.0, rate=1.6)
    times = [t for t, _ in reads]
    for i, t in enumerate(times):
        in_window = sum(1 for u in times[i:] if u < t + 60.0)
        assert in_window <= 1.6 * 60 + 1.6 + 1
    assert len(reads) >= 0.95 * 1.6 * 300


def test_under_a_scarce_budget_every_listing_is_read_in_turn_at_the_sweep_period() -> None:
    """The bound: 10 calls per sweep at 1.6 calls/s is one read of each listing every 6.25 s;
    the policy reads them round robin, so no listing waits much longer than that."""
    reads = run(groups(10), 300.0, rate=1.6)
    last: dict[str, float] = {}
    gaps: list[float] = []
    for t, unit in reads:
        if unit in last:
            gaps.append(t - last[unit])
        last[unit] = t
    counts = Counter(unit for _, unit in reads)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert max(gaps) <= 6.25 + 2 * STEP + 0.7  # a token lands every 0.625 s


def test_with_budget_to_spare_nothing_is_read_more_often_than_its_floor() -> None:
    """An unlimited budget reads every unit exactly at its floor (the docs' minimum interval)."""
    planner = groups(3, floor=5.0, members=1)
    reads = run(planner, 60.0, rate=math.inf)
    by_unit: dict[str, list[float]] = {}
    for t, unit in reads:
        by_unit.setdefault(unit, []).append(t)
    for times in by_unit.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps and min(gaps) >= 5.0 - 1e-9
        assert len(times) == 12  # 0, 5, ..., 55


def test_running_work_is_read_before_work_waiting_for_a_person() -> None:
    """One token, a HOT and a COLD unit due at the same moment: the HOT one is read; and over a
    scarce minute HOT units are read several times as often as COLD ones."""
    planner = Planner()
    planner.place("w.1.cold", "cold", COLD, 5.0, 0.0)
    planner.place("w.1.hot", "hot", HOT, 5.0, 0.0)
    planner.refill(0.0, 0.5)
    assert [u.id for u in planner.take(0.0, limit=16)] == ["hot"]

    planner = Planner()
    for i in range(5):
        planner.place(f"w.1.h{i}", f"hot{i}", HOT, 5.0, 0.0)
        planner.place(f"w.1.c{i}", f"cold{i}", COLD, 5.0, 0.0)
    reads = run(planner, 300.0, rate=0.5)
    hot = sum(1 for _, u in reads if u.startswith("hot"))
    cold = sum(1 for _, u in reads if u.startswith("cold"))
    assert cold > 0  # last, not never
    assert hot >= 3 * cold


def test_a_listing_is_as_urgent_as_its_most_urgent_watch() -> None:
    """A project's listing with one running job among queued ones is read as HOT; once that job
    leaves, the listing falls back to the class of the rest."""
    planner = Planner()
    planner.place("w.1.a", "job:prj", NORMAL, 5.0, 0.0)
    planner.place("w.1.b", "job:prj", HOT, 5.0, 0.0)
    assert planner.units["job:prj"].lane == (HOT, 5.0)
    planner.drop("w.1.b", "job:prj")
    assert planner.units["job:prj"].lane == (NORMAL, 5.0)


def test_a_watch_asked_for_during_its_read_is_read_again_right_after() -> None:
    """`want` on a unit whose read is under way (a new watch joining the listing) makes it due
    when that read ends, not a floor later."""
    planner = Planner()
    planner.place("w.1.a", "job:prj", HOT, 5.0, 0.0)
    planner.refill(0.0, math.inf)
    (unit,) = planner.take(0.0, limit=16)
    planner.place("w.1.b", "job:prj", HOT, 5.0, 0.5)
    planner.done(unit.id, 1.0, 6.0)
    assert planner.next_due() == 0.5
    assert [u.id for u in planner.take(1.0, limit=16)] == ["job:prj"]


def test_no_budget_means_no_read() -> None:
    """A budget of zero (a 429's Retry-After in force) hands out nothing, however overdue."""
    planner = groups(2, members=1)
    assert run(planner, 30.0, rate=0.0, start=100.0) == []


def story(resource: str, statuses: dict[str, str]) -> int:
    spec = WatchSpec(provider="story", resource=resource, id="x1")
    return poll_class(spec, {f"{resource}:x1:{k}": v for k, v in statuses.items()})


def test_story_odds_of_change_follow_the_facet_statuses() -> None:
    """Running work is HOT; queued or never read NORMAL; a plan waiting for approval, or an
    artifact whose followed facets all settled, COLD; a finished job still watched (its artifacts
    are being made) HOT."""
    assert story("job", {"status": "running"}) == HOT
    assert story("job", {"status": "reserved"}) == NORMAL
    assert story("job", {}) == NORMAL
    assert story("job", {"status": "ready"}) == HOT
    assert story("plan", {"status": "requires_approval"}) == COLD
    assert story("plan", {"status": "running"}) == HOT
    assert story("artifact", {"status": "ready", "video": "rendering"}) == HOT
    assert (
        story("artifact", {"status": "ready", "finalize": "complete", "video": "complete"}) == COLD
    )
    assert story("artifact", {"status": "ready", "revised": "revised"}) == COLD
    assert story("source", {"status": "ready", "digest": "running"}) == HOT


def test_a_scaled_engine_banks_one_api_second_of_budget_not_one_wall_second() -> None:
    """Intervals scaled x10 (the benchmarks' sandbox clock): the bucket fills at 16 calls a wall
    second, and after an idle spell it holds one API second of them (1.6 calls), so a burst never
    brings ten API seconds of calls at once into the key's rolling window, where polls beside
    steady commands reached the window's limit and queued in the budget every minute."""
    planner = groups(40)
    planner.refill(0.0, 16.0, bank=0.1)
    planner.tokens = 0.0
    planner.refill(10.0, 16.0, bank=0.1)
    assert len(planner.take(10.0, limit=16)) == 1
    unscaled = groups(40)
    unscaled.refill(0.0, 1.6)
    unscaled.tokens = 0.0
    unscaled.refill(10.0, 1.6)
    assert len(unscaled.take(10.0, limit=16)) == 1  # the same second banked, unscaled


def _heap_entries(planner: Planner) -> int:
    return sum(len(heap) for heap in planner._lanes.values())


def test_lane_heaps_shrink_with_the_units_under_churn() -> None:
    """Watches placed, re-classed and finished for a long while: the lanes hold a small multiple
    of the live units, not an entry per unit ever placed or moved."""
    planner = Planner()
    now = 0.0
    for i in range(5000):
        key = f"w.{i}"
        planner.place(key, key, NORMAL, 5.0, now)
        planner.place(key, key, HOT, 5.0, now)  # re-classed: a push into another lane
        planner.want(key, now)
        if i >= 10:
            old = f"w.{i - 10}"
            planner.drop(old, old)  # finished
        now += 1.0
    assert len(planner) == 10
    assert _heap_entries(planner) <= 2 * len(planner) + 64


def test_a_planner_emptied_by_finished_watches_lets_go_of_its_heap_entries() -> None:
    planner = Planner()
    for i in range(3000):
        planner.place(f"w.{i}", f"w.{i}", COLD, 60.0, float(i))
    for i in range(3000):
        planner.drop(f"w.{i}", f"w.{i}")
    assert len(planner) == 0
    assert _heap_entries(planner) <= 64
