"""Which durable command may call the API now: per-route probing and per-route concurrency.

A route that keeps answering 503 must cost the key one request per probe interval, not one per
command (or, worse, several retries per command): the rate budget is shared by every route, and a
failing one would spend it. So the durable intake asks `RouteGates.admit(route)` before it runs a
command:

* a healthy route admits while fewer than `max_in_flight` of its commands run, and while fewer
  than `provider_max_in_flight` of its provider's do (a slow route, or a slow provider, gets a
  share of the intake's slots, never all of them);
* after a failure that says the route is unwell (`upstream_unavailable`: 5xx, timeouts, no
  connection), the route is *failing*: nothing is admitted until `open_at` (a backoff doubling
  per failure, capped at `probe_max_seconds`, so a recovery is noticed within that cap), then
  exactly one command goes through as the probe; its success makes the route healthy again and
  releases everything held, its failure pushes `open_at` further.

What is not admitted is held: the caller parks it (bridge/nats/parking.py) for the seconds
`admit` returns, outside the commands consumer's ack-pending window. The gates live in one
replica; each replica probes on its own, which bounds the probes by the replica count. A route
that answers again on one replica is told to the others (`share_recoveries`, core NATS on
`{p}.ctl.route.recovered`), so none holds its commands until its own next probe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from bridge.config import BridgeSettings

log = structlog.get_logger(__name__)

# While a probe runs, held commands ask again this soon: its answer comes within a request.
PROBE_WAIT_SECONDS = 0.5
# A route at its in-flight share: one of its running commands ends soon.
BUSY_WAIT_SECONDS = 0.2

ROUTE_FAILING = "route_failing"
ROUTE_BUSY = "route_busy"


@dataclass
class _Route:
    failures: int = 0
    open_at: float = 0.0
    probing: bool = False
    in_flight: int = 0
    provider: str = ""


@dataclass(frozen=True)
class Hold:
    """Not now: ask again after `seconds`; `reason` names why (a metric label)."""

    seconds: float
    reason: str


class RouteGates:
    """Per-route backoff and concurrency, shared by every durable command of this replica."""

    def __init__(
        self,
        *,
        base_seconds: float,
        probe_max_seconds: float,
        max_in_flight: int,
        provider_max_in_flight: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_seconds = base_seconds
        self.probe_max_seconds = probe_max_seconds
        self.max_in_flight = max(1, max_in_flight)
        self.provider_max_in_flight = max(1, provider_max_in_flight or self.max_in_flight)
        self._clock = clock
        self._routes: dict[str, _Route] = {}
        self._providers: dict[str, int] = {}
        # Called with a route that answered again after failing (to tell the other replicas).
        self.on_recovered: Callable[[str], None] | None = None

    @classmethod
    def from_settings(cls, s: BridgeSettings) -> RouteGates:
        return cls(
            base_seconds=s.command_retry_base_seconds,
            # A failing route is probed at least as often as one command retries.
            probe_max_seconds=min(s.route_probe_max_seconds, s.command_retry_max_seconds),
            max_in_flight=s.effective_route_max_in_flight,
            # Never below a route's share: one route alone may always use its whole share.
            provider_max_in_flight=max(s.effective_route_max_in_flight, s.max_in_flight * 3 // 4),
        )

    def admit(self, route: str, provider: str = "") -> Hold | None:
        """None: run it now (the caller must `settle` it); else how long to hold it."""
        state = self._routes.setdefault(route, _Route(provider=provider))
        now = self._clock()
        if state.failures:
            if now < state.open_at:
                return Hold(state.open_at - now, ROUTE_FAILING)
            if state.probing:
                return Hold(PROBE_WAIT_SECONDS, ROUTE_FAILING)
            state.probing = True
        elif (
            state.in_flight >= self.max_in_flight
            or self._providers.get(state.provider, 0) >= self.provider_max_in_flight
        ):
            return Hold(BUSY_WAIT_SECONDS, ROUTE_BUSY)
        state.in_flight += 1
        self._providers[state.provider] = self._providers.get(state.provider, 0) + 1
        return None

    def settle(self, route: str, healthy: bool | None) -> None:
        """The admitted command ended. `healthy`: True when the route answered (a success or a
        terminal answer), False when it failed as a route does, None when it told nothing
        (an open circuit, a 429, our own plumbing)."""
        state = self._routes.setdefault(route, _Route())
        state.in_flight = max(0, state.in_flight - 1)
        self._providers[state.provider] = max(0, self._providers.get(state.provider, 0) - 1)
        was_probe, state.probing = state.probing, False
        if healthy is True:
            if state.failures and self.on_recovered is not None:
                self.on_recovered(route)
            state.failures = 0
        elif healthy is False:
            # Concurrent failures of one outage count once per probe, not once per command:
            # otherwise a burst would jump the backoff straight to its cap.
            if was_probe or not state.failures:
                state.failures += 1
            delay = min(
                self.base_seconds * 2 ** min(state.failures - 1, 32), self.probe_max_seconds
            )
            state.open_at = max(state.open_at, self._clock() + delay)
        elif was_probe and state.failures:
            state.open_at = self._clock() + PROBE_WAIT_SECONDS  # probe again soon

    def recovered(self, route: str) -> None:
        """Another replica saw `route` answer: release what this one holds for it."""
        state = self._routes.get(route)
        if state is not None:
            state.failures, state.open_at = 0, 0.0

    def failing(self, route: str) -> float | None:
        """Seconds until a failing route is probed again (0: now), None when it is healthy."""
        state = self._routes.get(route)
        if state is None or not state.failures:
            return None
        return max(0.0, state.open_at - self._clock())

    def in_flight(self) -> dict[str, int]:
        """Running commands per route (for the per-route in-flight gauge)."""
        return {route: s.in_flight for route, s in self._routes.items() if s.in_flight}


async def share_recoveries(nc: NatsClient, subject: str, gates: RouteGates) -> Subscription:
    """Tell every replica when a route answers again here, and listen for theirs (core NATS: a
    lost message only means that replica waits for its own probe)."""
    tasks: set[asyncio.Task[None]] = set()

    def tell(route: str) -> None:
        task = asyncio.get_running_loop().create_task(nc.publish(subject, route.encode()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def heard(msg: Msg) -> None:
        gates.recovered(msg.data.decode(errors="replace"))

    gates.on_recovered = tell
    return await nc.subscribe(subject, cb=heard)
