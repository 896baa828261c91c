"""Prometheus metrics of one bridge, in one registry object.

Each `Metrics` owns its own `CollectorRegistry` instead of prometheus-client's global default, so
tests and several bridges in one process (the replica scenarios) never collide on metric names.
`/metrics` (bridge.ops.health) serves `Metrics.render()`.

Label values are bounded on purpose: API routes are templated (`/story-jobs/{id}`), and command
names are capped (`other` past a limit), because a client publishing to random subjects must not be
able to grow the scrape without bound.

Detection latency, how it is measured: a poll sees a resource in state B whose previous poll (at
`previous_poll_at`) saw state A. The change became observable at some instant in between, so
`published_at - previous_poll_at` is an upper bound of the time from "observable on the API" to
"event published on NATS". That upper bound is what `detection_latency_seconds` records; it is
dominated by the poll interval plus the publish time. First sightings (no previous poll) and
events of resources that were not polled before are not observed.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from bridge.ops.fleet_metrics import FleetGauges, RecentDelays, bucket_counts, quantile

NAMESPACE: Final = "storybridge"
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
OTHER: Final = "other"

# API calls take tens of ms to seconds (a 429 wait is inside the command, not the request).
_REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Commands include retries within the retry budget (60 s by default).
_COMMAND_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# Detection latency is bounded by poll intervals: seconds to minutes.
_DETECTION_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Event delay: the SLO is read at one of these bounds (deploy/k8s/components/alerts), so they stay
# fixed; 15 and 30 s sit where 2x the poll bound of a typical job budget lands.
EVENT_DELAY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
# A durable command's latency includes its retries until its deadline (an hour by default).
_LATENCY_BUCKETS = (*_COMMAND_BUCKETS, 300.0, 900.0, 1800.0, 3600.0)

# Path segments of the Story API that are words, not ids. Anything else becomes `{id}`.
_STATIC_SEGMENTS: Final = frozenset({"api", "v1", "v2"})
_WORD = re.compile(r"^[a-z]+(?:-[a-z]+)*$")


def route_template(path: str) -> str:
    """`/story-jobs/cmj_123/cancel` -> `/story-jobs/{id}/cancel`: a bounded route label.

    A segment stays when it is an endpoint word (lower-case letters and hyphens, like
    `story-plans`, `render-video`) or a version segment; ids (cuids like `cmp1x2...`, `cmj_123`,
    numbers) contain digits or underscores and become `{id}`. The query string is dropped.
    """
    path = path.split("?", 1)[0].split("#", 1)[0]
    parts = []
    for segment in path.split("/"):
        if not segment or segment in _STATIC_SEGMENTS or _WORD.match(segment):
            parts.append(segment)
        else:
            parts.append("{id}")
    route = "/".join(parts)
    return route if route.startswith("/") else "/" + route


class _BoundedLabel:
    """Passes the first `limit` distinct values through, then answers `other`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self.limit:
            return OTHER
        self._seen.add(value)
        return value


# An outcome label is `ok` or an error code; the API's codes are not ours to bound, so a value that
# does not look like a code, or one past the first `max_outcomes` distinct ones, reads `other`.
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _label(value: Any) -> str:
    """Enum members by lower-case name (`Priority.POLL` -> `poll`), everything else by `str()`."""
    name = getattr(value, "name", None)
    return name.lower() if isinstance(name, str) else str(value)


class Metrics:
    """Every metric of one bridge. Create one per bridge; pass its methods as hooks."""

    def __init__(
        self, *, max_commands: int = 64, max_outcomes: int = 48, process: bool = True
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r, ns = self.registry, NAMESPACE
        self.recent_delays = RecentDelays()
        self._command_label = _BoundedLabel(max_commands)
        self._outcome_label = _BoundedLabel(max_outcomes)
        self.commands_total = Counter(
            "commands_total",
            "Commands executed, by command name and outcome (`ok` or the error code).",
            ["command", "outcome"],
            namespace=ns,
            registry=r,
        )
        self.command_duration_seconds = Histogram(
            "command_duration_seconds",
            "Time from a command's arrival to its outcome, retries included.",
            ["command"],
            namespace=ns,
            registry=r,
            buckets=_COMMAND_BUCKETS,
        )
        self.api_requests_total = Counter(
            "api_requests_total",
            "Story API requests by method, templated route and HTTP status (`error`: no answer).",
            ["method", "route", "status"],
            namespace=ns,
            registry=r,
        )
        self.api_request_duration_seconds = Histogram(
            "api_request_duration_seconds",
            "Duration of one Story API request (one attempt), by method and templated route.",
            ["method", "route"],
            namespace=ns,
            registry=r,
            buckets=_REQUEST_BUCKETS,
        )
        self.rate_limit_wait_seconds_total = Counter(
            "rate_limit_wait_seconds_total",
            "Seconds requests waited for the shared API rate budget, by priority (command, poll).",
            ["priority"],
            namespace=ns,
            registry=r,
        )
        self.watches_active = Gauge(
            "watches_active",
            "Watches currently held, by resource (source, plan, job, artifact, ...).",
            ["resource"],
            namespace=ns,
            registry=r,
        )
        self.events_published_total = Counter(
            "events_published_total",
            "CloudEvents published to STORYBRIDGE_EVENTS, by CloudEvent type.",
            ["type"],
            namespace=ns,
            registry=r,
        )
        self.detection_latency_seconds = Histogram(
            "detection_latency_seconds",
            "Upper bound of remote change -> event published: publish time minus previous poll.",
            namespace=ns,
            registry=r,
            buckets=_DETECTION_BUCKETS,
        )
        self.poll_lag_seconds = Gauge(
            "poll_lag_seconds",
            "How late the most overdue watch poll is (0 when every watch is on schedule).",
            namespace=ns,
            registry=r,
        )
        self.watch_stalled_total = Counter(
            "watch_stalled_total",
            "Watches that reached the stall threshold (a watch.stalled event was published).",
            namespace=ns,
            registry=r,
        )
        self.circuit_open = Gauge(
            "circuit_open",
            "1 while the provider's circuit is open (an account-level failure), else 0.",
            ["provider"],
            namespace=ns,
            registry=r,
        )
        self.dead_letters = Gauge(
            "dead_letters",
            "Messages in STORYBRIDGE_DEAD_LETTERS (refreshed every few seconds).",
            namespace=ns,
            registry=r,
        )
        self.command_retries_total = Counter(
            "command_retries_total",
            "Durable tries that ended retryable and were handed back with a delay.",
            ["command"],
            namespace=ns,
            registry=r,
        )
        self.credits_balance = Gauge(
            "credits_balance",
            "Studio Credit balance of the key, from GET /credits (refreshed every "
            "STORYBRIDGE_CREDITS_INTERVAL_SECONDS).",
            namespace=ns,
            registry=r,
        )
        # The balance reads 0 until the first good read: alerts pair it with this to tell "no
        # credits" from "not read yet" (and a balance gone stale with the API away).
        self.credits_checked_timestamp_seconds = Gauge(
            "credits_checked_timestamp_seconds",
            "Unix time of the last successful GET /credits (0: the balance was never read).",
            namespace=ns,
            registry=r,
        )
        self.discovery_sweep_seconds = Gauge(
            "discovery_sweep_seconds",
            "How long the last discovery sweep took, paced to STORYBRIDGE_DISCOVERY_BUDGET_SHARE of "
            "the poll budget.",
            namespace=ns,
            registry=r,
        )
        self.discovery_stretched_total = Counter(
            "discovery_stretched",
            "Discovery sweeps that took longer than STORYBRIDGE_DISCOVERY_INTERVAL_SECONDS (the "
            "interval stretched to what the budget share pays for).",
            namespace=ns,
            registry=r,
        )
        self.event_delay_seconds = Histogram(
            "event_delay_seconds",
            "Publish time of a resource event minus the API's updatedAt of the change "
            "(basis=updated_at) or, where the API gives none or its clock is implausible, minus "
            "the first read that saw it (basis=first_seen); a resource's first read by the bridge "
            "(work already in flight when watched) is basis=initial, from that read, outside the SLO.",
            ["provider", "resource", "basis"],
            namespace=ns,
            registry=r,
            buckets=EVENT_DELAY_BUCKETS,
        )
        self.command_latency_seconds = Histogram(
            "command_latency_seconds",
            "Publish of a command to its outcome (durable: from the JetStream message time, so "
            "queueing and retries count), by command and outcome (`ok` or the error code).",
            ["command", "outcome"],
            namespace=ns,
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.fleet = FleetGauges(r)
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)

    # --- hooks --------------------------------------------------------------------------------
    def observe_command(
        self, execution: Any, path: str = "", published_at: datetime | None = None
    ) -> None:
        """Record one `bridge.commands.Execution` (`path`: `durable`/`request`, unused).

        `published_at`: when the command was published (a durable command's JetStream message
        time); without it (request/reply) the latency is the execution's own duration."""
        outcome = execution.outcome
        command = self._command_label(outcome.command or "unknown")
        error = getattr(outcome, "error", None)
        code = str(getattr(error, "code", None) or "error")
        result = "ok" if outcome.ok else self._outcome_label(code if _CODE.match(code) else OTHER)
        self.commands_total.labels(command=command, outcome=result).inc()
        self.command_duration_seconds.labels(command=command).observe(execution.duration)
        latency = float(execution.duration)
        if published_at is not None:
            # The server's clock against ours: a skew must not make a latency negative.
            latency = max(latency, (datetime.now(UTC) - published_at).total_seconds())
        self.command_latency_seconds.labels(command=command, outcome=result).observe(latency)

    def observe_event_delay(self, provider: str, resource: str, basis: str, seconds: float) -> None:
        """One resource event's delay (`bridge.watch.delay.event_delay` decides the basis)."""
        self.event_delay_seconds.labels(provider=provider, resource=resource, basis=basis).observe(
            max(0.0, seconds)
        )
        if basis != "initial":  # the status p50/p95 are the SLO's: first reads are not delays
            self.recent_delays.add(time.time(), max(0.0, seconds))

    def delay_summary(self, now: float | None = None) -> dict[str, Any]:
        """This replica's event delays of the last minutes: count, p50, p95, max, and the counts
        per `EVENT_DELAY_BUCKETS` bound that let `admin.status` merge replicas."""
        values = self.recent_delays.values(time.time() if now is None else now)
        return {
            "count": len(values),
            "p50": quantile(values, 0.5),
            "p95": quantile(values, 0.95),
            "max": round(values[-1], 3) if values else None,
            "buckets": bucket_counts(values, EVENT_DELAY_BUCKETS),
        }

    def observe_api_request(
        self, method: str, path: str, status: int | str | None, duration: float
    ) -> None:
        """Record one API attempt; `status=None` means no HTTP answer (transport error)."""
        route = route_template(path)
        label = "error" if status is None else str(status)
        self.api_requests_total.labels(method=method.upper(), route=route, status=label).inc()
        self.api_request_duration_seconds.labels(method=method.upper(), route=route).observe(
            duration
        )

    def observe_rate_wait(self, priority: Any, seconds: float) -> None:
        """`RateBudget(on_wait=metrics.observe_rate_wait)`: time spent waiting for the budget."""
        if seconds > 0:
            self.rate_limit_wait_seconds_total.labels(priority=_label(priority)).inc(seconds)

    def set_watches_active(self, resource: str, count: int) -> None:
        self.watches_active.labels(resource=resource).set(count)

    def observe_event_published(
        self,
        event_type: str,
        *,
        previous_poll_at: float | None = None,
        published_at: float | None = None,
    ) -> None:
        """Count one published event; with both times, record detection latency (module doc).

        Both times must come from the same clock (e.g. `time.time()` or `loop.time()`).
        """
        self.events_published_total.labels(type=event_type).inc()
        if previous_poll_at is not None and published_at is not None:
            self.detection_latency_seconds.observe(max(0.0, published_at - previous_poll_at))

    def set_poll_lag(self, seconds: float) -> None:
        self.poll_lag_seconds.set(max(0.0, seconds))

    def watch_stalled(self) -> None:
        self.watch_stalled_total.inc()

    def set_circuit(self, provider: str, is_open: bool) -> None:
        self.circuit_open.labels(provider=provider).set(1 if is_open else 0)

    def set_dead_letters(self, count: int) -> None:
        self.dead_letters.set(count)

    def command_retried(self, command: str) -> None:
        self.command_retries_total.labels(command=self._command_label(command)).inc()

    def observe_discovery_sweep(self, seconds: float, *, stretched: bool) -> None:
        self.discovery_sweep_seconds.set(max(0.0, seconds))
        if stretched:
            self.discovery_stretched_total.inc()

    # --- exposition -------------------------------------------------------------------------------
    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
