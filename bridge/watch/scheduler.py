"""Per-key due times (flushes, retries), a heap with lazy deletion, and a watch's `Slot`.

The scheduler never walks the watches: a tick pops what is due (O(log n) each), an idle tick
costs one peek. A key has at most one live due time (`_at`); superseded heap entries are skipped
when they surface and compacted away when they pile up.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from bridge.watch.policy import NORMAL
from bridge.watch.settings import Schedule


class DueQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._at: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._at)

    def __contains__(self, key: str) -> bool:
        return key in self._at

    def push(self, key: str, at: float) -> None:
        """(Re)schedule `key` at `at`; an earlier due time of it is forgotten."""
        if self._at.get(key) == at:
            return
        self._at[key] = at
        heapq.heappush(self._heap, (at, key))
        if len(self._heap) > 2 * len(self._at) + 1024:
            self._heap = [(t, k) for k, t in self._at.items()]
            heapq.heapify(self._heap)

    def discard(self, key: str) -> None:
        self._at.pop(key, None)

    def pop_due(self, now: float, limit: int) -> list[str]:
        out: list[str] = []
        heap = self._heap
        while heap and heap[0][0] <= now and len(out) < limit:
            at, key = heapq.heappop(heap)
            if self._at.get(key) == at:
                del self._at[key]
                out.append(key)
        return out

    def next_at(self) -> float | None:
        heap = self._heap
        while heap and self._at.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None


@dataclass(slots=True)
class Slot(Schedule):
    """The in-memory schedule of one record of a shard this replica holds."""

    provider: str = ""
    resource: str = ""
    group: str | None = None  # the provider's batch key
    polled: bool = False  # an active watch (polled, not done)
    stalled: bool = False
    klass: int = NORMAL  # the provider's odds of change (`bridge.watch.policy`)
    floor: float = 0.0  # the policy's minimum interval for this watch, scaled
    expires_at: float = float("inf")  # the record's max-age deadline, pauses not yet folded in
    # The provider's fingerprint of the last snapshot applied in full (None: apply the next one):
    # an identical snapshot cannot change anything, so it costs no decode and no compare.
    fingerprint: int | None = None
