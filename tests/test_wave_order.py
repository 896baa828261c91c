"""Held commands waking together come back oldest first (issue 22): the spread a hold adds is a
command's rank among those the hold has now, so it never wraps (a place counted modulo 500 woke
the newer part of such a wave first) and never flattens (a distance in the shared stream from
the wave's first member passed any cap once enough other commands had gone by)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from bridge.nats.lanes import WaveOrder

HOLD = "circuit_open:story"


@given(st.sets(st.integers(min_value=1, max_value=10**12), min_size=2, max_size=200))
def test_an_older_command_always_wakes_before_a_newer_one_of_its_wave(seqs: set[int]) -> None:
    waves = WaveOrder(cap=500)
    for seq in seqs:  # every member is held once (in any order): the wave is known
        waves.spread(HOLD, seq, now=100.0)
    spreads = [waves.spread(HOLD, seq, now=101.0) for seq in sorted(seqs)]
    assert all(a < b for a, b in itertools.pairwise(spreads)), spreads
    assert spreads[0] == 0.0 and spreads[-1] <= 0.5


def test_a_wave_across_a_multiple_of_500_keeps_its_order() -> None:
    waves = WaveOrder(cap=500)
    spreads = [waves.spread(HOLD, seq, now=0.0) for seq in range(491, 511)]
    assert spreads == [i / 1000 for i in range(20)]


def test_a_long_hold_with_much_traffic_between_its_members_keeps_them_apart() -> None:
    """One command held for a minute (asking again every 4 s) while 600 others passed through
    the stream: the four that join are still spread 1 ms apart, not all at the cap."""
    waves = WaveOrder(cap=500)
    for t in range(0, 61, 4):
        waves.spread(HOLD, 100, now=float(t))
    assert [waves.spread(HOLD, seq, now=61.0) for seq in range(700, 704)] == [
        0.001,
        0.002,
        0.003,
        0.004,
    ]


def test_a_command_that_left_the_hold_stops_counting() -> None:
    """Not held again within forget_seconds: it ran (or reached its deadline); a circuit opening
    again 19 s later is a wave of its own."""
    waves = WaveOrder(cap=500, forget_seconds=10.0)
    for seq in (10, 20, 30):
        waves.spread(HOLD, seq, now=0.0)
    assert waves.spread(HOLD, 30, now=5.0) == 0.002
    assert waves.spread(HOLD, 30, now=12.0) == 0.0  # 10 and 20 ran at 5 s and were not seen again
    assert [waves.spread(HOLD, seq, now=31.0) for seq in (900, 901, 902)] == [0.0, 0.001, 0.002]


def test_holds_are_waves_of_their_own() -> None:
    waves = WaveOrder(cap=500)
    assert waves.spread(HOLD, 1000, now=0.0) == 0.0
    assert waves.spread("route_failing:POST /x", 1200, now=0.0) == 0.0
    assert waves.spread(HOLD, 1100, now=1.0) == 0.001
