"""The gauges an operator pages on, and the recent event delays `admin.status` summarises.

Fleet-wide values (replicas alive, unowned shards, the commands consumer, the dead-letter stream)
are read from NATS by every replica (`bridge.nats.fleet_report.FleetReporter`), so each replica
exports the same number: dashboards and alerts aggregate them with `max without (instance, pod)`,
which stays right while any one replica is scraped and keeps deployments (namespace, job) apart.
Values of one replica (shards it holds, its watches, its poll budget) are summed across replicas.

A replica that cannot read NATS must not page with what it read minutes ago: once its last good
report is `STALE_AFTER_REPORTS` reports old, its fleet-wide gauges read NaN (PromQL's max() skips a
NaN while any replica has a number), and `fleet_report_timestamp_seconds` says since when.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from typing import Final

from prometheus_client import CollectorRegistry, Gauge

NAMESPACE: Final = "storybridge"
RECENT_WINDOW_SECONDS: Final = 300.0
RECENT_LIMIT: Final = 10_000  # enough for p95 of minutes of events; memory stays bounded
STALE_AFTER_REPORTS: Final = 3  # one failed round is a blip; three are a replica cut off


class FleetGauges:
    """Gauges set by the fleet reporter every few seconds (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r, ns = registry, NAMESPACE

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, list(labels), namespace=ns, registry=r)

        self.replicas_alive = gauge(
            "replicas_alive", "Replicas whose heartbeat in the watch bucket is live (fleet-wide)."
        )
        self.shards_owned = gauge("shards_owned", "Watch shards this replica holds a lease on.")
        self.shards_unowned = gauge(
            "shards_unowned", "Watch shards no live replica holds a lease on (fleet-wide)."
        )
        self.commands_pending = gauge(
            "commands_pending", "Durable commands not yet delivered by the commands consumer."
        )
        self.commands_ack_pending = gauge(
            "commands_ack_pending",
            "Durable commands delivered and not settled yet: running or parked for a retry.",
        )
        self.commands_oldest_age_seconds = gauge(
            "commands_oldest_age_seconds",
            "Age of the oldest durable command not settled yet (0 when none is).",
        )
        self.commands_oldest_delivered_age_seconds = gauge(
            "commands_oldest_delivered_age_seconds",
            "Age of the oldest durable command delivered and not settled: parked for a retry, or "
            "running (minutes at most); an undelivered backlog does not count (0 when none is).",
        )
        self.dead_letters_oldest_age_seconds = gauge(
            "dead_letters_oldest_age_seconds",
            "Age of the oldest message in STORYBRIDGE_DEAD_LETTERS (0 when it is empty).",
        )
        self.watches = gauge(
            "watches",
            "Watches of the shards this replica holds, by provider, resource and state "
            "(active, stalled, done and kept for retention).",
            ("provider", "resource", "state"),
        )
        self.poll_budget_used_per_minute = gauge(
            "poll_budget_used_per_minute",
            "API calls this replica's polls made in the last minute, by provider.",
            ("provider",),
        )
        self.poll_budget_limit_per_minute = gauge(
            "poll_budget_limit_per_minute",
            "API calls per minute this replica's polls may make now (the poll budget), by provider.",
            ("provider",),
        )
        self.credits_low_threshold = gauge(
            "credits_low_threshold",
            "STORYBRIDGE_CREDITS_LOW_THRESHOLD: below it credits.low is announced.",
        )
        self.outbox_failing_records = gauge(
            "outbox_failing_records",
            "Watch records whose staged events failed to publish and wait for a retry.",
        )
        self.report_timestamp_seconds = gauge(
            "fleet_report_timestamp_seconds",
            "Unix time of this replica's last successful fleet report (0: none yet); its "
            "fleet-wide gauges read NaN once it is a few reports old.",
        )
        self._watch_labels: set[tuple[str, str, str]] = set()

    def fleet_wide(self) -> tuple[Gauge, ...]:
        """The gauges read from NATS for the whole fleet (stale when NATS is away)."""
        return (
            self.replicas_alive,
            self.shards_unowned,
            self.commands_pending,
            self.commands_ack_pending,
            self.commands_oldest_age_seconds,
            self.commands_oldest_delivered_age_seconds,
            self.dead_letters_oldest_age_seconds,
        )

    def mark_stale(self) -> None:
        """What this replica read of the fleet is too old to page on: NaN, not the last value."""
        for gauge in self.fleet_wide():
            gauge.set(math.nan)

    def set_watches(self, counts: dict[tuple[str, str, str], int]) -> None:
        """Replace the watch counts: a combination gone since the last call reads 0, not stale."""
        for labels in self._watch_labels - counts.keys():
            self.watches.labels(*labels).set(0)
        for labels, count in counts.items():
            self.watches.labels(*labels).set(count)
        self._watch_labels |= counts.keys()


class RecentDelays:
    """Event delays of the last minutes on this replica, for the p50/p95 `admin.status` shows."""

    def __init__(self, window: float = RECENT_WINDOW_SECONDS, limit: int = RECENT_LIMIT) -> None:
        self.window = window
        self._items: deque[tuple[float, float]] = deque(maxlen=limit)
        self._lock = threading.Lock()  # publishes and the status request may run in threads

    def add(self, at: float, seconds: float) -> None:
        with self._lock:
            self._items.append((at, seconds))

    def values(self, now: float) -> list[float]:
        """The delays observed in the window before `now`, sorted."""
        with self._lock:
            while self._items and self._items[0][0] < now - self.window:
                self._items.popleft()
            return sorted(seconds for _, seconds in self._items)


def quantile(ordered: list[float], q: float) -> float | None:
    """The nearest-rank quantile of sorted `ordered` (None when empty)."""
    if not ordered:
        return None
    rank = min(len(ordered), max(1, math.ceil(q * len(ordered))))
    return round(ordered[rank - 1], 3)


def bucket_counts(ordered: list[float], bounds: tuple[float, ...]) -> list[int]:
    """How many of sorted `ordered` fall at or below each bound, and (last) above them all:
    what replicas share so a fleet quantile can be merged (`bucket_quantile`)."""
    counts, below = [], 0
    for bound in bounds:
        upto = bisect.bisect_right(ordered, bound)
        counts.append(upto - below)
        below = upto
    counts.append(len(ordered) - below)
    return counts


def bucket_quantile(counts: list[int], bounds: tuple[float, ...], q: float) -> float | None:
    """The q-quantile of merged `bucket_counts`, interpolated inside its bucket as Prometheus'
    histogram_quantile does (the last bound when it falls above every bound)."""
    total = sum(counts)
    if total == 0:
        return None
    rank, seen, lower = q * total, 0, 0.0
    for count, upper in zip(counts, bounds, strict=False):
        if count and seen + count >= rank:
            return round(lower + (upper - lower) * (rank - seen) / count, 3)
        seen, lower = seen + count, upper
    return bounds[-1]
