"""The metrics of isolation (issue 22): what waits, since when, what runs per route, and the
work that hit a limit and was re-queued instead of silently dropped.

Registered on the bridge's own registry (`Metrics.registry`) by the runtime, so `/metrics` shows
them beside the others; kept apart from bridge/ops/metrics.py so each can grow on its own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

NAMESPACE = "storybridge"


class IsolationMetrics:
    """Parked commands, per-route in-flight, surfaced give-ups."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r, ns = registry, NAMESPACE
        self.parked_total = Counter(
            "commands_parked_total",
            "Durable commands that had to wait (parked, or held again when due), by reason "
            "(retrying, circuit_open, route_failing, route_busy) and provider.",
            ["reason", "provider"],
            namespace=ns,
            registry=r,
        )
        self.parked = Gauge(
            "commands_parked_now",
            "Durable commands waiting in STORYBRIDGE_PARKED now, by provider.",
            ["provider"],
            namespace=ns,
            registry=r,
        )
        self.parked_oldest_seconds = Gauge(
            "commands_parked_oldest_seconds",
            "Age (since its arrival in STORYBRIDGE_COMMANDS) of the oldest parked command.",
            namespace=ns,
            registry=r,
        )
        self.route_in_flight = Gauge(
            "route_in_flight",
            "Durable commands running at the API now on this replica, by route.",
            ["route"],
            namespace=ns,
            registry=r,
        )
        self.surfaced_total = Counter(
            "work_surfaced_total",
            "Work that hit a limit (CAS conflicts, a failed announcement) and was re-queued or "
            "answered as an error instead of dropped, by what (flush_conflicts, "
            "watch_add_conflicts, circuit_event); each also logs an error line.",
            ["what"],
            namespace=ns,
            registry=r,
        )
        self._routes: set[str] = set()

    def command_parked(self, reason: str, provider: str) -> None:
        self.parked_total.labels(reason=reason, provider=provider).inc()

    def surfaced(self, what: str) -> None:
        self.surfaced_total.labels(what=what).inc()

    def set_parked(self, by_provider: dict[str, int], oldest_seconds: float) -> None:
        for provider, count in by_provider.items():
            self.parked.labels(provider=provider).set(count)
        self.parked_oldest_seconds.set(oldest_seconds)

    def set_route_in_flight(self, by_route: dict[str, int]) -> None:
        for route in self._routes - set(by_route):
            self.route_in_flight.labels(route=route).set(0)
        for route, count in by_route.items():
            self.route_in_flight.labels(route=route).set(count)
        self._routes |= set(by_route)
