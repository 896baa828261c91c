"""Fixed request windows per bucket (a key, a token, an IP): the accounting, not the headers.

Windows run on wall time, not the sandbox clock: a client waits Retry-After real seconds, and a
fast clock must not make the limit meaningless. Each provider renders a `Window` as its own
headers (the Story API's `RateLimit-*` in seconds, Syllaby's `X-RateLimit-*` with an epoch reset).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """One bucket's window after a take (or a peek)."""

    limit: int
    remaining: int
    resets_in: int  # whole seconds until the window restarts, rounded up, at least 1
    allowed: bool  # False: the request is over the limit (nothing was spent)


class FixedWindows:
    """`take(bucket)` spends one request if the window allows; `peek` never spends."""

    def __init__(
        self,
        per_window: int,
        window_seconds: float = 60.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_window = per_window
        self.window_seconds = window_seconds
        self._now = now
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def _current(self, bucket: str, now: float) -> tuple[float, int, int]:
        start, used = self._windows.get(bucket, (now, 0))
        if now - start >= self.window_seconds:
            start, used = now, 0
        # Rounded up, so waiting exactly that long always succeeds.
        resets_in = max(1, math.ceil(self.window_seconds - (now - start)))
        return start, used, resets_in

    def take(self, bucket: str) -> Window:
        now = self._now()
        with self._lock:
            start, used, resets_in = self._current(bucket, now)
            if used >= self.per_window:
                self._windows[bucket] = (start, used)
                return Window(self.per_window, 0, resets_in, allowed=False)
            self._windows[bucket] = (start, used + 1)
            return Window(self.per_window, self.per_window - used - 1, resets_in, allowed=True)

    def peek(self, bucket: str) -> Window:
        now = self._now()
        with self._lock:
            _, used, resets_in = self._current(bucket, now)
            return Window(self.per_window, max(self.per_window - used, 0), resets_in, allowed=True)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
