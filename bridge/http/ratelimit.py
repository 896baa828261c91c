"""One request budget per API key, shared by command calls and poll reads.

The Story API allows ``per_minute`` requests per key (120 by default) and answers 429 beyond it.
Commands are what users wait for; polls can wait. So every request takes a slot from one
:class:`RateBudget`:

* locally, at most ``per_minute`` grants in any rolling 60 s window, and polls may not use the
  last ``reserve`` of them (kept for commands);
* from the server's ``RateLimit-Remaining`` / ``RateLimit-Reset`` (:meth:`RateBudget.observe`):
  when nothing remains everyone waits for the reset; when only the reserve remains, polls do;
* after a 429 (:meth:`RateBudget.block_for`): nobody is granted anything until ``Retry-After`` has
  elapsed, exactly that long and no extra backoff (the API's own instruction);
* waiters are served strictly in order (priority, arrival): a waiting command always goes before
  a waiting poll;
* a poller that paces itself asks :meth:`RateBudget.poll_capacity` how fast it may go: its share
  of the budget, or what commands leave below the reserve if that is less, so commands find
  the window open instead of queueing behind polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from enum import IntEnum

import structlog

from bridge.http.errors import clamp_wait

__all__ = ["Priority", "RateBudget"]

log = structlog.get_logger(__name__)

WINDOW_SECONDS = 60.0


class Priority(IntEnum):
    """Lower value is served first."""

    COMMAND = 0
    POLL = 1


WaitHook = Callable[[Priority, float], None]


class RateBudget:
    """A shared, priority-aware request budget. Create one per API key and share it."""

    def __init__(
        self,
        per_minute: int = 120,
        *,
        reserve: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_wait: WaitHook | None = None,
        remaining_header: str = "RateLimit-Remaining",
        reset_header: str = "RateLimit-Reset",
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self.reserve = max(1, per_minute // 10) if reserve is None else reserve
        if self.reserve >= per_minute:
            raise ValueError("reserve must be smaller than per_minute, or polls could never run")
        self._clock = clock
        self.on_wait = on_wait
        # Providers name these headers differently (Syllaby: X-RateLimit-*, its reset an epoch
        # timestamp, read by `reset_seconds`). A `remaining` without a reset says nothing about
        # when to send again (Syllaby's successes): the local window and the 429's own wait pace.
        self._remaining_header = remaining_header
        self._reset_header = reset_header
        self._grants: deque[float] = deque()
        self._command_grants: deque[float] = deque()  # the commands' part of `_grants`
        self._blocked_until = 0.0
        self._server_remaining: int | None = None
        self._server_reset_at = 0.0
        self._waiters: list[tuple[int, int]] = []
        self._seq = itertools.count()
        self._changed: asyncio.Event | None = None
        # Counters for metrics (a Prometheus collector can read these).
        self.wait_seconds: dict[Priority, float] = {p: 0.0 for p in Priority}
        self.granted: dict[Priority, int] = {p: 0 for p in Priority}
        self.blocks = 0

    # --- public API -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def slot(self, priority: Priority = Priority.COMMAND) -> AsyncIterator[None]:
        """Wait for permission to send one request; the body of the ``async with`` sends it."""
        await self.acquire(priority)
        yield

    async def acquire(self, priority: Priority = Priority.COMMAND) -> float:
        """Wait until this request may be sent; return the seconds waited."""
        started = self._clock()
        entry = (int(priority), next(self._seq))
        heapq.heappush(self._waiters, entry)
        try:
            while True:
                delay: float | None = None
                if self._waiters[0] == entry:
                    delay = self.delay_for(priority)
                    if delay <= 0:
                        heapq.heappop(self._waiters)
                        self._grant(priority)
                        break
                await self._wait_change(delay)
        except BaseException:
            if entry in self._waiters:
                self._waiters.remove(entry)
                heapq.heapify(self._waiters)
            raise
        finally:
            self._notify()
        waited = max(0.0, self._clock() - started)
        self.wait_seconds[priority] += waited
        self.granted[priority] += 1
        if self.on_wait is not None:
            self.on_wait(priority, waited)
        return waited

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn the server's view from ``RateLimit-Remaining`` / ``RateLimit-Reset``."""
        raw_remaining = _get(headers, self._remaining_header)
        raw_reset = _get(headers, self._reset_header)
        remaining, reset = _number(raw_remaining), _number(raw_reset)
        if remaining is None or reset is None:
            # Either teaches nothing alone, and a header that does not parse (`nan`, `inf`,
            # `1e400`, text) must never fail the call it came with, which may have taken effect.
            # Only the unreadable one is worth a warning: Syllaby sends a remaining count without
            # a reset on every success, which is its normal answer, not a broken one.
            if any(raw is not None and _number(raw) is None for raw in (raw_remaining, raw_reset)):
                log.warning(
                    "rate limit headers ignored: not finite numbers",
                    remaining=str(raw_remaining)[:40],
                    reset=str(raw_reset)[:40],
                )
            return
        self._server_remaining = int(remaining)
        self._server_reset_at = self._clock() + reset_seconds(reset)
        self._notify()

    def block_for(self, seconds: float) -> None:
        """After a 429: grant nothing to anyone for ``seconds`` (``Retry-After``), exactly."""
        seconds = clamp_wait(seconds, header="Retry-After")
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)
        self.blocks += 1
        self._notify()

    def delay_for(self, priority: Priority) -> float:
        """Seconds until a ``priority`` request could be granted (0 = now), ignoring the queue."""
        now = self._clock()
        delay = self._blocked_until - now
        while self._grants and self._grants[0] <= now - WINDOW_SECONDS:
            self._grants.popleft()
        limit = self.per_minute if priority is Priority.COMMAND else self.per_minute - self.reserve
        if len(self._grants) >= limit:
            oldest_to_expire = self._grants[len(self._grants) - limit]
            delay = max(delay, oldest_to_expire + WINDOW_SECONDS - now)
        if self._server_remaining is not None:
            if now >= self._server_reset_at:
                self._server_remaining = None
            else:
                floor = 0 if priority is Priority.COMMAND else self.reserve
                if self._server_remaining <= floor:
                    delay = max(delay, self._server_reset_at - now)
        return max(0.0, delay)

    def poll_capacity(self, share: float = 0.8) -> float:
        """Requests per second polls may spend right now: at most `share` of the budget, and
        never more than what commands (counted over the last window) leave below the commands'
        reserve, so the window never fills with polls and a command's slot is there at once.
        Nothing while a 429 blocks."""
        now = self._clock()
        grants = self._command_grants
        while grants and grants[0] <= now - WINDOW_SECONDS:
            grants.popleft()
        if self._blocked_until > now:
            return 0.0
        share = min(1.0, max(0.0, share))
        # One request of slack: a poll granted just before a command must not push the window
        # to the polls' limit, where the next poll would queue in the budget.
        left = self.per_minute - self.reserve - len(grants) - 1
        return max(0.0, min(share * self.per_minute, left)) / WINDOW_SECONDS

    def window_use(self) -> tuple[int, int]:
        """(all requests, command requests) granted in the last window: what `admin.status`
        and the poll-budget gauges show as in use."""
        cutoff = self._clock() - WINDOW_SECONDS
        grants = sum(1 for at in self._grants if at > cutoff)
        commands = sum(1 for at in self._command_grants if at > cutoff)
        return grants, commands

    @property
    def waiting(self) -> dict[Priority, int]:
        """How many requests of each priority are waiting right now."""
        counts = {p: 0 for p in Priority}
        for prio, _ in self._waiters:
            counts[Priority(prio)] += 1
        return counts

    # --- internals ------------------------------------------------------------------------------

    def _grant(self, priority: Priority = Priority.POLL) -> None:
        now = self._clock()
        self._grants.append(now)
        if priority is Priority.COMMAND:
            self._command_grants.append(now)
            # Pruned here too: a replica that only runs commands never asks `poll_capacity`,
            # and the deque must not keep every grant since start.
            while self._command_grants[0] <= now - WINDOW_SECONDS:
                self._command_grants.popleft()
        if self._server_remaining is not None:
            self._server_remaining -= 1

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def _wait_change(self, delay: float | None) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        changed = self._changed
        if delay is None:
            await changed.wait()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), delay)


# Above this a "seconds until reset" value can only be a Unix timestamp sent where seconds belong.
_EPOCH_THRESHOLD = 1_000_000_000.0


def reset_seconds(reset: float) -> float:
    """``RateLimit-Reset`` as seconds from now, bounded: an epoch timestamp is read as one."""
    if reset > _EPOCH_THRESHOLD:
        reset -= time.time()
    return clamp_wait(reset, header="RateLimit-Reset")


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name) or headers.get(name.lower())
    if value is None and not hasattr(headers, "multi_items"):  # a plain dict: any case
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def _number(value: str | None) -> float | None:
    """A finite, non-negative number, or None: `nan`, `inf` and `1e400` are broken headers."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
