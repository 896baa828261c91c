"""Lazy state machines: a transition is a callback due at a sandbox time.

Every world read first runs the callbacks that have come due, in due order, each exactly once; so
two reads always agree and side effects (a charge, a refund) happen once. A callback is passed its
due time, which it uses for timestamps, so runs repeat for a given seed and clock.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class Scheduler:
    """Transitions due at a sandbox time; `run_until(now)` applies every due one exactly once."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = itertools.count()

    def at(self, due: float, action: Callable[[float], None]) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), action))

    def run_until(self, now: float) -> None:
        # An action may schedule another one already due: keep popping until nothing is due.
        while self._heap and self._heap[0][0] <= now:
            due, _, action = heapq.heappop(self._heap)
            action(due)

    def __len__(self) -> int:
        return len(self._heap)
