"""The per-key request budget: a fixed window, `RateLimit-*` headers, 429 with an exact Retry-After.

Windows run on wall time, not the sandbox clock: a client waits Retry-After real seconds, and a fast
clock must not make the limit meaningless. `RateLimit-Reset` and `Retry-After` are the whole seconds
until the window restarts, rounded up, so waiting exactly that long always succeeds.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from bridge.providers.story.sandbox.errors import SandboxError


class RateLimiter:
    """`take(bucket) -> headers` or raises 429 rate_limited; one window per bucket (key or IP)."""

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

    def take(self, bucket: str) -> dict[str, str]:
        now = self._now()
        with self._lock:
            start, used = self._windows.get(bucket, (now, 0))
            if now - start >= self.window_seconds:
                start, used = now, 0
            reset = max(1, math.ceil(self.window_seconds - (now - start)))
            if used >= self.per_window:
                self._windows[bucket] = (start, used)
                raise SandboxError(
                    "rate_limited",
                    "The per-key + per-IP rate limit for this route family was exceeded.",
                    details={"retryAfter": reset},
                    headers={**self.headers(0, reset), "Retry-After": str(reset)},
                )
            self._windows[bucket] = (start, used + 1)
            return self.headers(self.per_window - used - 1, reset)

    def peek(self, bucket: str) -> dict[str, str]:
        """The headers for `bucket` without spending from it."""
        now = self._now()
        with self._lock:
            start, used = self._windows.get(bucket, (now, 0))
            if now - start >= self.window_seconds:
                start, used = now, 0
            reset = max(1, math.ceil(self.window_seconds - (now - start)))
            return self.headers(self.per_window - used, reset)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def headers(self, remaining: int, reset: int) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.per_window),
            "RateLimit-Remaining": str(max(remaining, 0)),
            "RateLimit-Reset": str(reset),
        }
