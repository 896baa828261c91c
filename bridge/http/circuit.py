"""One circuit per provider: an account-level failure stops every call until a probe gets through.

A revoked key, a disabled account or a lapsed subscription fails every request the same way until a
person acts. Sending them anyway burns the rate budget, floods the logs and stalls every watch, and
tells nobody anything once. So the first such answer opens the provider's circuit:

* the transport refuses to send (:class:`CircuitOpen`, retryable, with the code that opened it);
* the watch engine stops polling the provider's watches (they keep their state);
* a probe every ``probe_seconds`` asks the API once (no retries); its first answer that judges the
  request (not account-level, not 408/425/429/5xx) closes it. Nothing else closes it, so a late
  answer to a request sent before the revocation cannot make it flap.

Opening and closing each call ``on_change`` once, which the runtime turns into one
``bridge.degraded`` / ``bridge.recovered`` event and the ``storybridge_circuit_open`` gauge.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from bridge.http.errors import ApiError, CircuitOpen, UpstreamError, is_account_level

__all__ = ["Circuit", "CircuitChange"]

log = structlog.get_logger(__name__)

_UNJUDGED_STATUSES = frozenset({408, 425, 429})

# Set while a probe runs, so the transport lets that one request through an open circuit.
_probing: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "storybridge_probing", default=False
)


@dataclass(frozen=True)
class CircuitChange:
    """What `on_change` receives: the provider, whether it is now open, and why."""

    provider: str
    open: bool
    code: str
    message: str
    since: datetime
    status: int | None = None


ChangeHook = Callable[[CircuitChange], Awaitable[None]]
Probe = Callable[[], Awaitable[Any]]


class Circuit:
    """Closed until an account-level answer; open until a probe gets any other answer."""

    def __init__(
        self,
        provider: str,
        *,
        probe_seconds: float = 60.0,
        on_change: ChangeHook | None = None,
    ) -> None:
        self.provider = provider
        self.probe_seconds = probe_seconds
        self.on_change = on_change
        self._opened_by: CircuitChange | None = None
        self._probe_task: asyncio.Task[None] | None = None
        self._probe: Probe | None = None
        self._hooks: set[asyncio.Task[None]] = set()
        # When the next probe is sent (loop time), and whether one is under way: a durable
        # command held by this circuit comes back just after the probe, not on its own schedule.
        self._next_probe_at: float | None = None
        self._probe_running = False
        self._wake: asyncio.Event | None = None

    @property
    def is_open(self) -> bool:
        return self._opened_by is not None

    @property
    def opened_by(self) -> CircuitChange | None:
        return self._opened_by

    def hold_seconds(self, margin: float = 0.5) -> float | None:
        """None while closed; else how long a durable command should wait before asking again:
        until just after the next probe's answer (`margin`), or `margin` while a probe runs."""
        if self._opened_by is None:
            return None
        if self._probe_running or self._next_probe_at is None:
            return margin
        with contextlib.suppress(RuntimeError):
            now = asyncio.get_running_loop().time()
            return max(self._next_probe_at - now, 0.0) + margin
        return margin

    def probe_soon(self) -> None:
        """Probe now instead of at the next interval (another replica saw the provider answer)."""
        if self._wake is not None:
            self._wake.set()

    def paused(self, provider: str) -> bool:
        """The watch engine's `paused` hook for this circuit's provider."""
        return provider == self.provider and self.is_open

    # --- used by the transport ------------------------------------------------------------------

    def check(self) -> None:
        """Raise CircuitOpen unless closed, or this request is the probe."""
        opened = self._opened_by
        if opened is None or _probing.get():
            return
        raise CircuitOpen(
            f"{self.provider} circuit open since {opened.since.isoformat()}: {opened.message}",
            code=opened.code,
            provider=self.provider,
            status=opened.status,
        )

    def observe(self, error: UpstreamError | None) -> UpstreamError | None:
        """Learn from one answer (None: a success). Returns the error the caller should raise:
        an account-level one becomes CircuitOpen, so durable commands are held, not failed."""
        if isinstance(error, ApiError) and is_account_level(error):
            self._open(error)
            return CircuitOpen(
                f"{self.provider}: {error.code} ({error.status}): {error.message}",
                code=error.code,
                provider=self.provider,
                status=error.status,
            )
        # Only the probe's own answer closes: a late answer to a request sent before the key was
        # revoked says nothing about the key now. Any answer that judged the request (a success,
        # a 404, even insufficient_scope) means the account is accepted again; 408/425/429 and
        # 5xx say nothing either way.
        judged = error is None or (
            isinstance(error, ApiError)
            and error.status < 500
            and error.status not in _UNJUDGED_STATUSES
        )
        if judged and _probing.get():
            self._close()
        return error

    # --- probing --------------------------------------------------------------------------------

    def start(self, probe: Probe) -> None:
        """Remember how to probe; the probe loop runs only while the circuit is open."""
        self._probe = probe
        if self.is_open:
            self._ensure_probing()

    async def stop(self) -> None:
        """Bounded: the probe and any announcement still trying (NATS may be down) are cancelled."""
        tasks = [t for t in (self._probe_task, *self._hooks) if t is not None]
        self._probe_task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    @property
    def probing_now(self) -> bool:
        """Whether the current task is the probe (one request, never retried)."""
        return _probing.get()

    @contextlib.contextmanager
    def probing(self) -> Iterator[None]:
        token = _probing.set(True)
        try:
            yield
        finally:
            _probing.reset(token)

    async def _probe_loop(self) -> None:
        probe = self._probe
        loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        while probe is not None:
            self._next_probe_at = loop.time() + self.probe_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.probe_seconds)
            wake.clear()
            if self._opened_by is None:  # closed during the sleep (by another task's answer)
                break
            self._probe_running = True
            with self.probing():
                try:
                    await probe()
                except UpstreamError as err:
                    # observe() already closed the circuit on a non-account-level 4xx answer.
                    log.info(
                        "circuit probe", provider=self.provider, code=err.code, open=self.is_open
                    )
                except Exception as err:  # a probe must never end the loop
                    log.warning("circuit probe failed", provider=self.provider, error=repr(err))
                finally:
                    self._probe_running = False

    def _ensure_probing(self) -> None:
        if self._probe is None:
            return
        if self._probe_task is None or self._probe_task.done():
            # A fresh context: the call that opened the circuit may belong to a command, whose
            # response recording and trace must not follow every probe.
            self._probe_task = asyncio.get_running_loop().create_task(
                self._probe_loop(),
                name=f"storybridge-circuit-{self.provider}",
                context=contextvars.Context(),
            )

    # --- transitions ----------------------------------------------------------------------------

    def _open(self, error: ApiError) -> None:
        if self._opened_by is not None:
            return
        change = CircuitChange(
            provider=self.provider,
            open=True,
            code=error.code,
            message=error.message,
            since=datetime.now(UTC),
            status=error.status,
        )
        self._opened_by = change
        log.error(
            "circuit opened: the provider refuses this account; calls stop until a probe passes",
            provider=self.provider,
            code=error.code,
            status=error.status,
            probe_seconds=self.probe_seconds,
        )
        self._announce(change)
        with contextlib.suppress(RuntimeError):  # no running loop: start() will probe
            self._ensure_probing()

    def _close(self) -> None:
        opened = self._opened_by
        if opened is None:
            return
        self._opened_by = None
        change = CircuitChange(
            provider=self.provider,
            open=False,
            code=opened.code,
            message=f"{self.provider} answers again",
            since=datetime.now(UTC),
            status=None,
        )
        log.warning("circuit closed", provider=self.provider, was=opened.code)
        self._announce(change)

    def _announce(self, change: CircuitChange) -> None:
        if self.on_change is None:
            return
        try:
            task = asyncio.get_running_loop().create_task(
                self._run_hook(change), context=contextvars.Context()
            )
        except RuntimeError:
            return
        self._hooks.add(task)
        task.add_done_callback(self._hooks.discard)

    async def _run_hook(self, change: CircuitChange) -> None:
        assert self.on_change is not None
        try:
            await self.on_change(change)
        except Exception as err:
            log.warning("circuit change not announced", provider=self.provider, error=repr(err))
