"""Knobs of the watch engine, and the per-watch poll schedule (kept in memory, not in KV).

The schedule is deliberately not persisted: writing a KV record on every unchanged poll would cost
one write per poll per watch. A replica that takes a watch over simply polls it at once.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class WatchSettings:
    """`interval_scale` multiplies EVERY poll interval and backoff (fast tests, the sandbox)."""

    interval_scale: float = 1.0
    stall_after: int = 5
    backoff_cap: float = 60.0
    lease_seconds: float = 30.0
    duplicate_window: float = 120.0
    discovery_interval: float = 0.0  # 0 = discovery off
    gone_after: int = 3  # consecutive 404 reads before watch.gone ...
    gone_min_seconds: float = 60.0  # ... spread over at least this long (not scaled)
    max_age: float = 21600.0  # watch.expired after this long without a terminal state
    pause_recheck: float = 1.0  # how soon a paused provider's watches are looked at again
    max_record_bytes: int = 0  # 0: the server's max_payload, less headroom
    max_event_bytes: int = 0  # 0: half of max_record_bytes (an event must fit a record twice)
    batch_size: int = 100
    retain_done_seconds: float = 7 * 24 * 3600.0  # as long as the events stream keeps events
    # Of the rate budget, what polls may spend at most (STORYBRIDGE_POLL_BUDGET_SHARE); commands
    # using more than the rest take it from polls (`RateBudget.poll_capacity`).
    poll_budget_share: float = 0.8
    jitter: float = 0.1
    replica_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> WatchSettings:
        """From `bridge.config.BridgeSettings` (contract names), plus explicit overrides."""
        values: dict[str, Any] = {
            "stall_after": settings.stall_after_failures,
            "lease_seconds": settings.watch_lease_seconds,
            "duplicate_window": settings.events_duplicate_window_seconds,
            "gone_after": settings.gone_after_not_found,
            "max_age": settings.watch_max_age_seconds,
            "discovery_interval": settings.discovery_interval_seconds,
            "interval_scale": getattr(settings, "poll_interval_scale", None) or 1.0,
            "poll_budget_share": getattr(settings, "poll_budget_share", 0.8),
        }
        values.update(overrides)
        return cls(**values)


@dataclass(slots=True)
class Schedule:
    """When one watch is next due, its current interval and its run of failed reads.

    `last_poll_at` is the last poll, read or failed; `last_read_at` the last successful read, i.e.
    the last time this replica saw the resource's state (the base of detection latency).
    """

    next_at: float
    interval: float = 0.0
    failures: int = 0
    last_poll_at: float | None = None
    last_read_at: float | None = None
    pause_base: float = 0.0  # the provider's paused seconds when this replica took the watch

    def after_read(self, now: float, floor: float) -> None:
        """Due again `floor` seconds (scaled) from now: the poll policy's minimum for this watch.
        When it is read after that is the budget's call (`bridge.watch.policy`), not a stretch."""
        self.interval = floor
        self.failures = 0
        self.last_poll_at = self.last_read_at = now
        self.next_at = now + floor

    def after_failure(
        self,
        now: float,
        bounds: tuple[float, float],
        settings: WatchSettings,
        *,
        retry_after: float | None = None,
    ) -> None:
        """Exponential backoff from the minimum interval, capped at `backoff_cap` (scaled).

        A `Retry-After` from the API is a floor: no poll of this watch is sent before it passes.
        """
        low = bounds[0] * settings.interval_scale
        cap = settings.backoff_cap * settings.interval_scale
        self.failures += 1
        self.interval = min(cap, low * (2 ** min(self.failures - 1, 16)))
        self.last_poll_at = now
        self.next_at = now + max(_jittered(self.interval, settings.jitter), retry_after or 0.0)

    def after_not_found(
        self, now: float, bounds: tuple[float, float], settings: WatchSettings, *, times: int
    ) -> None:
        """The confirming reads of a 404: soon at first (it may be a moment's invisibility, and
        the change after it should not wait), then backing off to a spacing that spreads
        `gone_after` reads over `gone_min_seconds`. Not a failure: no step towards a stall."""
        low = bounds[0] * settings.interval_scale
        spread = settings.gone_min_seconds / max(1, settings.gone_after - 1)
        self.interval = max(low, min(spread, low * 2 ** min(max(times - 1, 0), 16)))
        self.last_poll_at = now
        self.next_at = now + _jittered(self.interval, settings.jitter)

    def after_pause(self, now: float, settings: WatchSettings) -> None:
        """Look again soon; nothing about the watch itself changes."""
        self.next_at = now + settings.pause_recheck * min(1.0, max(settings.interval_scale, 0.05))


def _jittered(seconds: float, jitter: float) -> float:
    return seconds * (1.0 + random.uniform(-jitter, jitter))
