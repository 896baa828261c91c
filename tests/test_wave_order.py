"""Held commands waking together come back oldest first (issue 22): the spread a hold adds grows
with the place after the oldest held command and never wraps (it wrapped at every 500th place of
the stream, waking the newer part of such a wave first)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.nats.lanes import WaveOrder


@given(st.integers(min_value=1, max_value=10**12), st.lists(st.integers(0, 2000), min_size=2))
def test_an_older_command_never_wakes_after_a_newer_one_of_its_wave(
    base: int, places: list[int]
) -> None:
    waves = WaveOrder(cap=500)
    seqs = [base + p for p in places]
    for seq in seqs:  # every member is held once: the wave's oldest is known
        waves.spread("circuit_open:story", seq, now=100.0)
    spreads = {seq: waves.spread("circuit_open:story", seq, now=101.0) for seq in seqs}
    ordered = sorted(seqs)
    assert [spreads[s] for s in ordered] == sorted(spreads[s] for s in ordered)
    assert all(0.0 <= v <= 0.5 for v in spreads.values())


def test_a_wave_across_a_multiple_of_500_keeps_its_order() -> None:
    waves = WaveOrder(cap=500)
    spreads = [waves.spread("circuit_open:story", seq, now=0.0) for seq in range(491, 511)]
    assert spreads == sorted(spreads) and spreads[0] == 0.0 and spreads[-1] == 0.019


def test_holds_are_waves_of_their_own_and_a_later_hold_starts_a_new_one() -> None:
    waves = WaveOrder(cap=500, forget_seconds=30.0)
    assert waves.spread("circuit_open:story", 1000, now=0.0) == 0.0
    assert waves.spread("route_failing:POST /x", 1200, now=0.0) == 0.0  # another hold
    assert waves.spread("circuit_open:story", 1100, now=1.0) == 0.1
    # Nothing held for longer than forget_seconds: the next hold is a new wave.
    assert waves.spread("circuit_open:story", 5000, now=40.0) == 0.0
